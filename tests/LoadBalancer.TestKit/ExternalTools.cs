using System.Diagnostics;
using System.Text;

namespace LoadBalancer.TestKit;

/// <summary>Runs the independent decoders the tests compare against: Debian's python3 with scapy and tshark.
/// They are expected to be installed (the test script installs python3-scapy and tshark); a missing tool
/// fails the test rather than skipping it.</summary>
public static class ExternalTools
{
    /// <summary>Debian's python, which has scapy. (A <c>python3</c> earlier on PATH may be another one without it.)</summary>
    public const string Python = "/usr/bin/python3";
    public const string Tshark = "tshark";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <summary>Runs <c>/usr/bin/python3 -c <paramref name="script"/></c> and returns its standard output.</summary>
    public static string RunPython(string script, params string[] args) => Run(Python, ["-c", script, .. args]);

    /// <summary>Runs tshark with the given arguments and returns its standard output.</summary>
    public static string RunTshark(params string[] args) => Run(Tshark, args);

    /// <summary>Runs a program to completion and returns its standard output; throws with its standard
    /// error when it cannot be started, fails or times out.</summary>
    public static string Run(string program, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // Neither tool should look at a user's configuration or write to $HOME.
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        info.Environment["PYTHONNOUSERSITE"] = "1";

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run {program} (is it installed? the test script installs python3-scapy and tshark): {e.Message}", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} did not finish within {Timeout.TotalSeconds} s");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"{program} {string.Join(' ', args.Take(1))}... exited with {process.ExitCode}: {stderr.Result}");
            return stdout.Result;
        }
    }

    /// <summary>Decodes a pcap file with tshark, verifying IP/TCP/UDP checksums, and returns one row per
    /// frame with the requested fields (empty string where a field is absent).</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, string>> TsharkFields(string pcapPath, params string[] fields)
    {
        var args = new List<string>
        {
            "-r", pcapPath, "-n",
            "-o", "tcp.check_checksum:TRUE",
            "-o", "udp.check_checksum:TRUE",
            "-o", "ip.check_checksum:TRUE",
            "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f",
        };
        foreach (var f in fields)
        {
            args.Add("-e");
            args.Add(f);
        }
        var output = RunTshark([.. args]);
        var rows = new List<IReadOnlyDictionary<string, string>>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var values = line.TrimEnd('\r').Split('\t');
            var row = new Dictionary<string, string>();
            for (var i = 0; i < fields.Length; i++)
                row[fields[i]] = i < values.Length ? values[i] : "";
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Parses lines of "name hex" (as the scapy scripts print them) into frames by name.</summary>
    public static Dictionary<string, byte[]> ParseHexLines(string output)
    {
        var frames = new Dictionary<string, byte[]>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2) throw new FormatException($"unexpected line from python: '{line}'");
            frames[parts[0]] = Convert.FromHexString(parts[1]);
        }
        return frames;
    }
}

/// <summary>Writes the classic libpcap file format (not pcapng): a 24-byte global header, then a 16-byte
/// record header before each frame. Little-endian, microsecond timestamps, link type 1 (Ethernet).</summary>
public sealed class PcapWriter : IDisposable
{
    public const uint Magic = 0xA1B2C3D4;
    public const uint LinkTypeEthernet = 1;

    private readonly Stream _stream;
    private readonly uint _snapLength;
    private long _timeUs;

    public PcapWriter(Stream stream, uint snapLength = 262144, long startTimeUs = 1_700_000_000_000_000)
    {
        _stream = stream;
        _snapLength = snapLength;
        _timeUs = startTimeUs;
        Span<byte> header = stackalloc byte[24];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);  // version major
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);  // version minor
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);   // thiszone
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header[16..], snapLength);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header[20..], LinkTypeEthernet);
        _stream.Write(header);
    }

    public static PcapWriter Create(string path) => new(File.Create(path));

    /// <summary>Appends one frame, 1 ms after the previous one.</summary>
    public void Write(ReadOnlySpan<byte> frame)
    {
        var captured = (uint)Math.Min(frame.Length, _snapLength);
        Span<byte> record = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(_timeUs / 1_000_000));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(_timeUs % 1_000_000));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record[8..], captured);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
        _stream.Write(record);
        _stream.Write(frame[..(int)captured]);
        _timeUs += 1000;
    }

    public void Dispose() => _stream.Dispose();
}
