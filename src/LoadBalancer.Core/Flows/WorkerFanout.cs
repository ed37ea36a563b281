namespace LoadBalancer.Core.Flows;

/// <summary>Which of an interface's workers a frame reaches: the arithmetic of the fanout program every receive
/// port of a group runs (LoadBalancer.Linux's <c>ClientFanout</c>), done here so the engine can tell in advance
/// which worker will see a flow. It depends on nothing but the client's address and port, so two balancers with the
/// same number of workers send the same flow to the same worker: a flow the peer synced is installed where this
/// balancer's frames of it will land. The kernel's own PACKET_FANOUT_HASH would not do: it hashes with a random
/// seed drawn at each boot, so two hosts (unlike two namespaces of one host) disagree.
/// hash = m ^ (m &gt;&gt; 16) with m = (clientAddress ^ clientPort) × 0x9E3779B1 (32-bit wrap); the kernel takes it
/// modulo the group's size, and workers join a group in their number order, so member i is worker i. For an ICMP
/// error the client's address and port are those of the datagram it quotes, so the error meets its flow.</summary>
public static class WorkerFanout
{
    /// <summary>The multiplicative (Fibonacci) hash constant, 2^32 / φ: it spreads neighbouring addresses and ports.</summary>
    public const uint Multiplier = 0x9E3779B1;

    public static uint Hash(uint clientAddress, ushort clientPort)
    {
        var m = unchecked((clientAddress ^ clientPort) * Multiplier);
        return m ^ (m >> 16);
    }

    /// <summary>The worker (0-based) among <paramref name="workers"/> that frames of this client's flow reach.</summary>
    public static int Worker(uint clientAddress, ushort clientPort, int workers) =>
        workers <= 1 ? 0 : (int)(Hash(clientAddress, clientPort) % (uint)workers);

    /// <summary>An IPv6 client address as the fanout program keys it: its four 32-bit words XORed.</summary>
    public static uint Fold(UInt128 address) => (uint)(address >> 96) ^ (uint)(address >> 64) ^ (uint)(address >> 32) ^ (uint)address;

    /// <summary>The worker an IPv6 client's flow reaches (<see cref="Fold"/>, then as <see cref="Worker(uint, ushort, int)"/>).</summary>
    public static int Worker(UInt128 clientAddress, ushort clientPort, int workers) => Worker(Fold(clientAddress), clientPort, workers);
}
