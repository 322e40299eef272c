using Xunit;

namespace AedDeploy.Tests;

public class NamesTests
{
    [Theory]
    [InlineData("main")]
    [InlineData("release/2026.11")]
    [InlineData("v1.2.3")]
    [InlineData("feature/x_y-z+1")]
    [InlineData("0123456789abcdef0123456789abcdef01234567")]
    public void ValidateGitRef_accepts_refs_git_accepts(string gitRef) => Assert.Equal(gitRef, Names.ValidateGitRef(gitRef));

    [Theory]
    [InlineData("main; touch /tmp/pwned")]
    [InlineData("$(id)")]
    [InlineData("`id`")]
    [InlineData("a'b")]
    [InlineData("a\nb")]
    [InlineData("-delete")]
    [InlineData("a..b")]
    [InlineData("a/.hidden")]
    [InlineData("x.lock")]
    [InlineData("a@{1}")]
    [InlineData("")]
    [InlineData("trailing/")]
    public void ValidateGitRef_rejects_hostile_or_invalid(string gitRef)
    {
        var ex = Assert.Throws<AedDeployException>(() => Names.ValidateGitRef(gitRef));
        Assert.Equal("InvalidGitRef", ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
    }

    [Theory]
    [InlineData("fixture")]
    [InlineData("my-app.web_1")]
    public void ValidateAppName_accepts_pm2_names(string name) => Assert.Equal(name, Names.ValidateAppName(name));

    [Theory]
    [InlineData("app; reboot")]
    [InlineData("-app")]
    [InlineData(".app")]
    [InlineData("a b")]
    [InlineData("")]
    public void ValidateAppName_rejects_others(string name) =>
        Assert.Equal("InvalidAppName", Assert.Throws<AedDeployException>(() => Names.ValidateAppName(name)).ErrorId);

    [Fact]
    public void Printable_escapes_control_characters_in_messages()
    {
        var ex = Assert.Throws<AedDeployException>(() => Names.ValidateAppName("a\nb"));
        Assert.Contains("a\\x0ab", ex.Message);
    }

    [Theory]
    [InlineData("relative/path")]
    [InlineData("/srv/../etc")]
    [InlineData("/srv/app\n")]
    public void ValidateRemotePath_rejects_paths_that_escape(string path) =>
        Assert.Equal("InvalidRemotePath", Assert.Throws<AedDeployException>(() => Names.ValidateRemotePath(path, "AppPath")).ErrorId);

    [Fact]
    public void ValidateRemotePath_trims_trailing_slash() => Assert.Equal("/srv/app", Names.ValidateRemotePath("/srv/app/", "AppPath"));
}
