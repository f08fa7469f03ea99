import CutoverCore
import Testing

/// `host_cutover.inventory`, `host_cutover.worksheet` and a task's `require_worksheet`: read as written, and every
/// bad value named with its path.
@Suite("Host cutover configuration: inventory and worksheet")
struct HostInventoryConfigTests {
    static func yaml(_ section: String, task: String = "") -> String {
        """
        host_cutover:
          hosts: { a: { executor: local, interface: lo }, b: { executor: "netns:b", interface: eth0 } }
          tasks:
            - { name: t, from: a, to: b, service: { stop: x, start: y, health: z }\(task) }
        \(section)
        """
    }

    @Test func theSectionsAreReadAsWritten() throws {
        let settings = try ConfigLoader.loadHost(yaml: Self.yaml("""
              inventory: { config_roots: [/etc/nginx, /srv/app/config], extra_paths: [/etc/shop.env] }
              worksheet: { rules: { listening: differs, cpu_vendor: off }, ignore: ["sysctl.net.*"] }
            """, task: ", require_worksheet: true")).get().hostCutover
        #expect(settings.inventory == .init(configRoots: ["/etc/nginx", "/srv/app/config"], extraPaths: ["/etc/shop.env"]))
        #expect(settings.worksheet.verdicts["listening"] == .differs && settings.worksheet.verdicts["cpu_vendor"] == .off)
        #expect(settings.worksheet.verdicts["packages"] == .blocker, "a rule not named keeps its default")
        #expect(settings.worksheet.ignore.contains("sysctl.net.*") && settings.worksheet.ignore.contains("sysctl.kernel.random.*"),
                "the volatile settings stay ignored")
        #expect(settings.tasks.first?.requireWorksheet == true)
        let defaults = try ConfigLoader.loadHost(yaml: Self.yaml("")).get().hostCutover
        #expect(defaults.inventory.configRoots == nil && defaults.worksheet == .defaults && defaults.tasks.first?.requireWorksheet == false)
    }

    @Test func badValuesAreNamedWithTheirPath() {
        guard case .failure(let error) = ConfigLoader.loadHost(yaml: Self.yaml("""
              inventory: { config_roots: [etc/nginx] }
              worksheet: { rules: { listening: maybe, cpu: off } }
            """, task: ", require_worksheet: sometimes")) else {
            Issue.record("expected the configuration to be refused")
            return
        }
        #expect(error.issues.map(\.path.description) == ["host_cutover.tasks[0].require_worksheet", "host_cutover.inventory.config_roots[0]",
                                                         "host_cutover.worksheet.rules.listening", "host_cutover.worksheet.rules.cpu"],
                "\(error.issues.map { "\($0.path): \($0.message)" })")
        #expect(error.issues.contains { $0.message == "'etc/nginx' is not an absolute path" })
        #expect(error.issues.contains { $0.message == "'maybe' is not blocker, differs or off" })
        #expect(error.issues.contains { $0.message == "unknown key 'cpu'" })
    }
}
