namespace LoadBalancer.Core.Packets;

/// <summary>Why a frame was not forwarded. Every drop is counted under one of these; the names
/// (snake_case of the member) are the keys of <c>"drops"</c> in <c>lb status --json</c>.</summary>
public enum DropReason : byte
{
    None = 0,
    EthernetTruncated,
    VlanTruncated,
    ArpTruncated,
    ArpUnsupported,
    Ipv4Truncated,
    Ipv4BadVersion,
    Ipv4BadHeaderLength,
    Ipv4BadTotalLength,
    Ipv4BadChecksum,
    Ipv4Fragment,
    Ipv6Truncated,
    Ipv6BadVersion,
    Ipv6BadPayloadLength,
    Ipv6BadExtensionHeader,
    Ipv6TooManyExtensionHeaders,
    Ipv6Fragment,
    Ipv6UnknownNextHeader,
    TcpTruncated,
    TcpBadDataOffset,
    UdpTruncated,
    UdpBadLength,
    IcmpTruncated,
    IcmpForged,
    RingTruncated,
    ChecksumOffsetInvalid,
    NoBackend,
    BackendMacUnresolved,
    BackendDown,
    SessionTableFull,
    NewFlowRateExceeded,
    NatNoSession,
    TtlExpired,
    MtuExceeded,
    NotOwner,
    TransmitFailed,
    /// <summary>A new flow found every backend that could take it at its connection limit (backups included) and
    /// <c>when_all_down: drop</c>.</summary>
    BackendsFull,
    Count,
}

public static class DropReasonNames
{
    private static readonly string[] Names = BuildNames();

    public static string Name(DropReason reason) => Names[(int)reason];

    private static string[] BuildNames()
    {
        var names = new string[(int)DropReason.Count];
        for (var i = 0; i < names.Length; i++)
        {
            var text = ((DropReason)i).ToString();
            var sb = new System.Text.StringBuilder();
            for (var c = 0; c < text.Length; c++)
            {
                if (char.IsUpper(text[c]) && c > 0) sb.Append('_');
                sb.Append(char.ToLowerInvariant(text[c]));
            }
            names[i] = sb.ToString();
        }
        return names;
    }
}
