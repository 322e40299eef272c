using System.Security.Cryptography;
using System.Text;

namespace AedDeploy.Transport;

/// <summary>One host key from an OpenSSH known_hosts file: its key type (for example ssh-ed25519) and public key blob.</summary>
public sealed record KnownHostKey(string KeyType, byte[] Blob, bool Revoked, int LineNumber)
{
    public string Fingerprint => SshKeys.Sha256Fingerprint(Blob);
}

/// <summary>
/// Reads and appends OpenSSH known_hosts files: plain names, <c>[host]:port</c>, comma lists, wildcards,
/// negations, hashed (<c>|1|salt|hash</c>) names and the <c>@revoked</c> marker. Certificate authorities
/// (<c>@cert-authority</c>) are not used for trust: host certificates are not accepted by this module.
/// </summary>
public static class KnownHosts
{
    /// <summary>The name OpenSSH uses for a host in known_hosts: the bare host on port 22, else <c>[host]:port</c>.</summary>
    public static string HostEntryName(string host, int port) => port == 22 ? host : $"[{host}]:{port}";

    /// <summary>Every key the file lists for <paramref name="host"/> on <paramref name="port"/>; none when the file does not exist.</summary>
    public static IReadOnlyList<KnownHostKey> Find(string path, string host, int port)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        return Find(File.ReadAllLines(path), host, port);
    }

    public static IReadOnlyList<KnownHostKey> Find(IEnumerable<string> lines, string host, int port)
    {
        var name = HostEntryName(host, port);
        var found = new List<KnownHostKey>();
        var lineNumber = 0;
        foreach (var raw in lines)
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            var revoked = false;
            if (fields[0].StartsWith('@'))
            {
                if (fields[0] == "@cert-authority")
                {
                    continue;
                }

                revoked = fields[0] == "@revoked";
                if (!revoked)
                {
                    continue;
                }

                fields = fields[1..];
            }

            if (fields.Length < 3 || !MatchesHostField(fields[0], name))
            {
                continue;
            }

            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(fields[2]);
            }
            catch (FormatException)
            {
                continue;
            }

            found.Add(new KnownHostKey(fields[1], blob, revoked, lineNumber));
        }

        return found;
    }

    /// <summary>Adds a plain entry for the host, creating the file (and its folder, owner-only) when missing.</summary>
    public static void Append(string path, string host, int port, string keyType, byte[] blob)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        var entry = $"{HostEntryName(host, port)} {keyType} {Convert.ToBase64String(blob)}\n";
        var needsNewline = File.Exists(path) && new FileInfo(path).Length > 0 && !File.ReadAllText(path).EndsWith('\n');
        File.AppendAllText(path, (needsNewline ? "\n" : string.Empty) + entry);
    }

    /// <summary>Matches one comma-separated host field of known_hosts against a host name, as OpenSSH does.</summary>
    internal static bool MatchesHostField(string field, string name)
    {
        if (field.StartsWith("|1|", StringComparison.Ordinal))
        {
            return MatchesHashed(field, name);
        }

        var matched = false;
        foreach (var pattern in field.Split(','))
        {
            if (pattern.StartsWith('!'))
            {
                if (WildcardMatch(pattern[1..], name))
                {
                    return false;
                }
            }
            else if (WildcardMatch(pattern, name))
            {
                matched = true;
            }
        }

        return matched;
    }

    private static bool MatchesHashed(string field, string name)
    {
        var parts = field.Split('|');
        if (parts.Length != 4)
        {
            return false;
        }

        try
        {
            var salt = Convert.FromBase64String(parts[2]);
            var expected = Convert.FromBase64String(parts[3]);
            var actual = HMACSHA1.HashData(salt, Encoding.UTF8.GetBytes(name));
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    // OpenSSH patterns: '*' any run, '?' one character; host names compare case-insensitively.
    private static bool WildcardMatch(string pattern, string text)
    {
        int p = 0, t = 0, starP = -1, starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(text[t])))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                starP = p++;
                starT = t;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                t = ++starT;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}

/// <summary>Facts about SSH public key blobs.</summary>
public static class SshKeys
{
    /// <summary>The OpenSSH SHA256 fingerprint of a public key blob, as <c>ssh-keygen -l</c> prints it.</summary>
    public static string Sha256Fingerprint(byte[] blob) =>
        "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');

    /// <summary>The key type written at the start of a public key blob (an SSH string: 4-byte length, then the name).</summary>
    public static string KeyTypeOf(byte[] blob)
    {
        if (blob.Length < 4)
        {
            return string.Empty;
        }

        var length = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
        return length > 0 && length <= blob.Length - 4 ? Encoding.ASCII.GetString(blob, 4, length) : string.Empty;
    }

    /// <summary>The key type a host-key algorithm negotiates: the RSA signature algorithms all use ssh-rsa keys.</summary>
    public static string KeyTypeOfAlgorithm(string algorithm) => algorithm switch
    {
        "rsa-sha2-256" or "rsa-sha2-512" => "ssh-rsa",
        _ => algorithm,
    };

    /// <summary>Normalises a fingerprint as a user may type it: with or without the SHA256: prefix and padding.</summary>
    public static string NormalizeFingerprint(string fingerprint)
    {
        var value = fingerprint.Trim();
        if (value.StartsWith("SHA256:", StringComparison.OrdinalIgnoreCase))
        {
            value = value[7..];
        }

        return "SHA256:" + value.TrimEnd('=');
    }
}
