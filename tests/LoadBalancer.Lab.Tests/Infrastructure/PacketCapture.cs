using System.Diagnostics;

namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>tcpdump writing a pcap in a namespace; ready once tcpdump says it is listening, stopped
/// with SIGINT so it flushes the file. Immediate mode: otherwise libpcap's ring holds packets until a
/// block times out, and a capture stopped right after a short burst records none of it.</summary>
public sealed class PacketCapture : IDisposable
{
    private readonly Process _process;

    private PacketCapture(Process process) => _process = process;

    public static PacketCapture Start(string ns, string interfaceName, string pcapPath, string filter)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", ns, "tcpdump", "--immediate-mode", "-i", interfaceName, "-U", "-s", "200", "-w", pcapPath, filter })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        var ready = new ManualResetEventSlim();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true) ready.Set();
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        if (!ready.Wait(TimeSpan.FromSeconds(15)))
        {
            process.Kill();
            throw new TimeoutException("tcpdump did not start listening");
        }
        return new PacketCapture(process);
    }

    /// <summary>Gratuitous ARPs for <paramref name="ip"/> sent from <paramref name="mac"/> in a pcap (it may still be
    /// written), read with tshark.</summary>
    public static int GratuitousArps(string pcapPath, string ip, string mac) =>
        Shell.Run("tshark", ["-r", pcapPath, "-Y", $"arp.src.proto_ipv4 == {ip} && arp.dst.proto_ipv4 == {ip} && arp.src.hw_mac == {mac}",
                "-T", "fields", "-e", "frame.number"]).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Shell.Run("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (!_process.WaitForExit(10_000)) _process.Kill();
        }
        _process.WaitForExit();
        _process.Dispose();
    }
}
