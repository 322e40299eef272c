using System.Security.Cryptography;
using System.Text;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

public class KnownHostsTests
{
    private static readonly byte[] Ed25519Blob = Blob("ssh-ed25519", 1);
    private static readonly byte[] OtherEd25519Blob = Blob("ssh-ed25519", 2);
    private static readonly byte[] RsaBlob = Blob("ssh-rsa", 3);

    [Fact]
    public void Find_matches_plain_and_bracketed_port_entries()
    {
        var lines = new[]
        {
            $"example.com ssh-ed25519 {B64(Ed25519Blob)}",
            $"[example.com]:2222 ssh-rsa {B64(RsaBlob)} comment",
        };
        Assert.Single(KnownHosts.Find(lines, "example.com", 22), k => k.KeyType == "ssh-ed25519");
        Assert.Single(KnownHosts.Find(lines, "example.com", 2222), k => k.KeyType == "ssh-rsa");
        Assert.Empty(KnownHosts.Find(lines, "example.org", 22));
    }

    [Fact]
    public void Find_matches_hashed_entries_as_ssh_keygen_H_writes_them()
    {
        var salt = RandomNumberGenerator.GetBytes(20);
        var hash = HMACSHA1.HashData(salt, Encoding.UTF8.GetBytes("[127.0.0.1]:2200"));
        var lines = new[] { $"|1|{B64(salt)}|{B64(hash)} ssh-ed25519 {B64(Ed25519Blob)}" };
        Assert.Single(KnownHosts.Find(lines, "127.0.0.1", 2200));
        Assert.Empty(KnownHosts.Find(lines, "127.0.0.1", 22));
    }

    [Fact]
    public void Find_honours_lists_wildcards_and_negation()
    {
        var lines = new[] { $"*.example.com,!bad.example.com,10.0.0.? ssh-ed25519 {B64(Ed25519Blob)}" };
        Assert.Single(KnownHosts.Find(lines, "web.EXAMPLE.com", 22));
        Assert.Single(KnownHosts.Find(lines, "10.0.0.7", 22));
        Assert.Empty(KnownHosts.Find(lines, "bad.example.com", 22));
        Assert.Empty(KnownHosts.Find(lines, "10.0.0.17", 22));
    }

    [Fact]
    public void Find_skips_comments_cert_authorities_and_broken_lines_and_marks_revoked()
    {
        var lines = new[]
        {
            "# comment",
            $"@cert-authority *.example.com ssh-ed25519 {B64(OtherEd25519Blob)}",
            "host.example.com ssh-ed25519 not-base64!",
            $"@revoked host.example.com ssh-ed25519 {B64(OtherEd25519Blob)}",
        };
        var found = KnownHosts.Find(lines, "host.example.com", 22);
        var key = Assert.Single(found);
        Assert.True(key.Revoked);
    }

    [Fact]
    public void Policy_trusts_a_listed_key_and_refuses_a_changed_one()
    {
        var known = KnownHosts.Find([$"h ssh-ed25519 {B64(Ed25519Blob)}"], "h", 22);
        var policy = new HostKeyPolicy(known, null, acceptNew: true);
        Assert.Equal(HostKeyVerdict.Trusted, policy.Evaluate(Ed25519Blob));
        Assert.Equal(HostKeyVerdict.Mismatch, policy.Evaluate(OtherEd25519Blob));
    }

    [Fact]
    public void Policy_offers_only_the_key_types_the_file_holds()
    {
        var known = KnownHosts.Find([$"h ssh-rsa {B64(RsaBlob)}"], "h", 22);
        Assert.Equal(["ssh-rsa"], new HostKeyPolicy(known, null, false).AllowedKeyTypes!);
        Assert.Null(new HostKeyPolicy([], null, false).AllowedKeyTypes);
        Assert.Null(new HostKeyPolicy(known, SshKeys.Sha256Fingerprint(RsaBlob), false).AllowedKeyTypes);
    }

    [Fact]
    public void Policy_for_an_unknown_host_trusts_only_when_asked()
    {
        Assert.Equal(HostKeyVerdict.Unknown, new HostKeyPolicy([], null, false).Evaluate(Ed25519Blob));
        Assert.Equal(HostKeyVerdict.TrustedOnFirstUse, new HostKeyPolicy([], null, true).Evaluate(Ed25519Blob));
    }

    [Fact]
    public void Policy_with_a_pin_decides_by_fingerprint_alone()
    {
        var fingerprint = SshKeys.Sha256Fingerprint(Ed25519Blob);
        Assert.Equal(HostKeyVerdict.Trusted, new HostKeyPolicy([], fingerprint[7..] + "=", false).Evaluate(Ed25519Blob));
        Assert.Equal(HostKeyVerdict.FingerprintMismatch, new HostKeyPolicy([], fingerprint, false).Evaluate(OtherEd25519Blob));
    }

    [Fact]
    public void Policy_refuses_a_revoked_key_even_when_pinned()
    {
        var known = KnownHosts.Find([$"@revoked h ssh-ed25519 {B64(Ed25519Blob)}"], "h", 22);
        Assert.Equal(HostKeyVerdict.Revoked, new HostKeyPolicy(known, SshKeys.Sha256Fingerprint(Ed25519Blob), true).Evaluate(Ed25519Blob));
    }

    [Fact]
    public void Append_writes_an_entry_that_Find_reads_back()
    {
        var path = Path.Combine(Path.GetTempPath(), $"aed-kh-{Guid.NewGuid():N}", "known_hosts");
        try
        {
            File.WriteAllText(Path.Combine(CreateParent(path)), "other ssh-ed25519 AAAA");
            KnownHosts.Append(path, "127.0.0.1", 2201, "ssh-ed25519", Ed25519Blob);
            var key = Assert.Single(KnownHosts.Find(path, "127.0.0.1", 2201));
            Assert.Equal(Ed25519Blob, key.Blob);
            Assert.StartsWith("other ssh-ed25519 AAAA\n[127.0.0.1]:2201 ssh-ed25519 ", File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void KeyTypeOf_reads_the_blob_header() => Assert.Equal("ssh-rsa", SshKeys.KeyTypeOf(RsaBlob));

    private static string CreateParent(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes);

    // A key blob is an SSH string with the key type, then the key's data; random data stands in for the key.
    private static byte[] Blob(string keyType, int seed)
    {
        var name = Encoding.ASCII.GetBytes(keyType);
        var data = new byte[32];
        new Random(seed).NextBytes(data);
        var blob = new byte[4 + name.Length + data.Length];
        blob[3] = (byte)name.Length;
        name.CopyTo(blob, 4);
        data.CopyTo(blob, 4 + name.Length);
        return blob;
    }
}
