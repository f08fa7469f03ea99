/// What a worksheet rule makes of the rows it finds: a blocker, a difference to look at, or nothing (the rule is off).
public enum WorksheetVerdict: String, Sendable, Hashable, CaseIterable {
    case blocker, differs, off
}

/// `host_cutover.worksheet`: a verdict per rule of the migration worksheet (``Worksheet`` in CutoverHost), and the
/// settings left out of the comparison.
public struct WorksheetRules: Sendable, Hashable {
    /// The rules and what each finds.
    public static let descriptions: [(name: String, finds: String)] = [
        ("os_version", "the target's distribution is the same with a lower major version"),
        ("cpu_vendor", "the CPU vendor differs"),
        ("memory", "the target has less memory than the source uses"),
        ("disk", "a file system of the source holds more than the target's file system at that mount point can"),
        ("packages", "a package the source has is not installed on the target"),
        ("listening", "a port the source listens on has no listener on the target"),
        ("references", "a configuration file on the target names the old host"),
        ("collectors", "a collector ran on one side only"),
    ]

    public var verdicts: [String: WorksheetVerdict]
    /// Key patterns (`*` for any run of characters) left out.
    public var ignore: [String]

    /// Every rule a blocker; the settings that change on their own left out.
    public static let defaults = WorksheetRules(verdicts: Dictionary(uniqueKeysWithValues: descriptions.map { ($0.name, .blocker) }), ignore: volatile)

    /// Settings that differ from minute to minute or from host to host by nature.
    public static let volatile = [
        "sysctl.kernel.random.*", "sysctl.fs.dentry-state", "sysctl.fs.inode-nr", "sysctl.fs.inode-state", "sysctl.fs.file-nr",
        "sysctl.kernel.ns_last_pid", "sysctl.kernel.pty.nr", "sysctl.net.netfilter.nf_conntrack_count", "sysctl.kernel.hostname",
        "sysctl.fs.aio-nr", "sysctl.kernel.tainted", "sysctl.fs.binfmt_misc.*", "memory.used_bytes", "disk.*.used_bytes",
        "disk.*.free_bytes",
    ]

    public init(verdicts: [String: WorksheetVerdict], ignore: [String]) {
        self.verdicts = verdicts
        self.ignore = ignore
    }

    public func verdict(_ rule: String) -> WorksheetVerdict { verdicts[rule] ?? .blocker }
}
