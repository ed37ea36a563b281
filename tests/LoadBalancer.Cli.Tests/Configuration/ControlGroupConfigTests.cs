using LoadBalancer.Core.Model;
using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary><c>control_group:</c> and <c>control_admin_group:</c>: group names resolved through the group database
/// when the file is read, each refusal at the key's line, as <c>lb check</c> prints it.</summary>
public sealed class ControlGroupConfigTests
{
    [Fact]
    public void Parse_Absent_NoGroups()
    {
        var config = Load(Minimal());

        Assert.Null(config.ControlGroup);
        Assert.Null(config.ControlAdminGroup);
    }

    [Fact]
    public void Parse_ExistingGroups_ResolvedToTheirGids()
    {
        // root (0) and nogroup (65534) are in every Debian's /etc/group.
        var config = Load(Minimal(top: "control_group: nogroup\ncontrol_admin_group: root"));

        Assert.Equal(new UnixGroup("nogroup", 65534), config.ControlGroup);
        Assert.Equal(new UnixGroup("root", 0), config.ControlAdminGroup);
    }

    [Theory]
    [InlineData("control_group: lb-no-such-group", "lb.yaml:1: control_group: group 'lb-no-such-group' does not exist")]
    [InlineData("control_admin_group: lb-no-such-group", "lb.yaml:1: control_admin_group: group 'lb-no-such-group' does not exist")]
    [InlineData("control_group: -wheel",
        "lb.yaml:1: control_group: group '-wheel' is not a group name (up to 32 letters, digits, '.', '_' or '-', not starting with '-')")]
    [InlineData("control_admin_group: \"lb admins\"",
        "lb.yaml:1: control_admin_group: group 'lb admins' is not a group name (up to 32 letters, digits, '.', '_' or '-', not starting with '-')")]
    [InlineData("control_group: [adm]", "lb.yaml:1: control_group must be a single value, not a list")]
    [InlineData("control_group:", "lb.yaml:1: control_group has no value")]
    public void Parse_BadGroup_IsErrorAtItsLine(string line, string expected)
    {
        AssertSingleError(Minimal(top: line), expected);
    }

    [Fact]
    public void Check_UnknownGroup_ReportedWithItsLine()
    {
        using var file = new TempFile("workers: 1\ncontrol_admin_group: lb-no-such-group\n" + Minimal());

        var (code, output, _) = CheckRun.RunCheck(file.Path);

        Assert.Equal(2, code);
        Assert.Equal([$"{file.Path}:2: control_admin_group: group 'lb-no-such-group' does not exist"], CheckRun.OutputLines(output));
    }
}
