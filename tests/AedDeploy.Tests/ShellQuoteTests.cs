using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

public class ShellQuoteTests
{
    [Theory]
    [InlineData("plain", "'plain'")]
    [InlineData("", "''")]
    [InlineData("it's", "'it'\\''s'")]
    [InlineData("main; rm -rf /", "'main; rm -rf /'")]
    [InlineData("$(touch /tmp/x)`id`", "'$(touch /tmp/x)`id`'")]
    public void Quote_wraps_in_single_quotes(string value, string expected) =>
        Assert.Equal(expected, ShellQuote.Quote(value));

    [Fact]
    public void Quote_rejects_nul()
    {
        var ex = Assert.Throws<AedDeployException>(() => ShellQuote.Quote("a\0b"));
        Assert.Equal("ShellValueContainsNul", ex.ErrorId);
    }

    [Fact]
    public void Format_quotes_every_interpolated_value_but_fragments()
    {
        var path = "/srv/my app";
        var branch = "x'; rm -rf / #";
        var command = ShellQuote.Format($"git -C {path} fetch origin {branch} {new ShellFragment("2>&1")}");
        Assert.Equal("git -C '/srv/my app' fetch origin 'x'\\''; rm -rf / #' 2>&1", command);
    }

    [Fact]
    public void Format_writes_numbers_invariantly() =>
        Assert.Equal("sleep '1.5'", ShellQuote.Format($"sleep {1.5}"));

    [Fact]
    public void Join_quotes_each_value() =>
        Assert.Equal("'a b' 'c'", ShellQuote.Join(["a b", "c"]));
}
