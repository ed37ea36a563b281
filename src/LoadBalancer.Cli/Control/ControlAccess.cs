using System.Globalization;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Control;

/// <summary>Who sent a request on the control socket, as the kernel recorded it at connect time (SO_PEERCRED,
/// SO_PEERGROUPS): its pid, uid, primary gid and supplementary groups.</summary>
internal sealed record ControlPeer(int Pid, uint Uid, uint Gid, IReadOnlyList<uint> Groups)
{
    public bool InGroup(uint gid) => Gid == gid || Groups.Contains(gid);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"uid {Uid} (pid {Pid})");
}

/// <summary>Which requests a connected peer may send. Connecting at all is the socket file's business (mode 0660,
/// <c>control_group:</c>): whoever can connect may ask for <c>status</c>. A request that changes the engine
/// (<see cref="Changes"/>) also needs the peer to be root, the engine's own user, or a member of
/// <c>control_admin_group:</c> when one is set.</summary>
internal sealed class ControlAccess(uint engineUid, string engineUser, UnixGroup? adminGroup)
{
    /// <summary>The verbs that change the engine: an operator's intent and weights (<c>backend</c>), health results
    /// (<c>health</c>: a forged one takes a backend out), <c>reload</c>, and <c>ha</c> (it changes which balancer
    /// answers for the VIPs). Only <c>status</c>, <c>flow</c> and <c>flows</c> read; an unknown verb changes nothing and is answered as unknown.</summary>
    public static bool Changes(string verb) => verb is "backend" or "health" or "reload" or "ha";

    /// <summary>Null when <paramref name="peer"/> may send <paramref name="verb"/>; otherwise why not, for the answer.</summary>
    public string? Refusal(string verb, ControlPeer peer)
    {
        if (!Changes(verb)) return null;
        if (peer.Uid == 0 || peer.Uid == engineUid) return null;
        if (adminGroup is { } group && peer.InGroup(group.Gid)) return null;
        var allowed = string.Create(CultureInfo.InvariantCulture, $"root, the engine's user ({engineUser}, uid {engineUid})");
        return adminGroup is { } g
            ? string.Create(CultureInfo.InvariantCulture, $"{verb} refused: uid {peer.Uid} is not {allowed} or a member of control_admin_group {g.Name} (gid {g.Gid})")
            : string.Create(CultureInfo.InvariantCulture, $"{verb} refused: uid {peer.Uid} is not {allowed}, and no control_admin_group is set");
    }
}
