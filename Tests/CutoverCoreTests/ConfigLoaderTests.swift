import CutoverCore
import Foundation
import Testing

@Suite("Configuration loading", .timeLimit(.minutes(1)))
struct ConfigLoaderTests {
    static var valid: String {
        """
        listen: "127.0.0.1:8080"
        threads: 2
        limits: { max_header_bytes: 16KiB, max_body_bytes: 2MiB }
        shutdown: { drain_timeout: 5s }
        admin:
          listen: "127.0.0.1:9090"
          tokens:
            - { name: ops, role: operator, sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }
        store: "postgres://app:secret@db:5432/cutover"
        backends:
          old: { url: "http://127.0.0.1:9001", pool_size: 8, connect_timeout: 250ms, response_timeout: 2s }
          new: { url: "https://new.internal", host_header: "orders.example.com", tls: { verify: false, server_name: "orders" } }
        routes:
          - name: order-by-id
            match: { methods: [GET, PUT], path: "/orders/{id}" }
            phase: old
          - name: static
            match: { prefix: "/static/" }
            phase: new
            limits: { max_body_bytes: 0 }
        """
    }

    func load(_ yaml: String) -> Result<CutoverConfig, ConfigError> {
        ConfigLoader.load(yaml: yaml, source: "test.yaml")
    }

    func issues(_ yaml: String) -> [ConfigIssue] {
        guard case .failure(let error) = load(yaml) else {
            Issue.record("expected the configuration to be refused")
            return []
        }
        return error.issues
    }

    /// Found by fuzzing: an empty document's error had no line. Every error names one, also for what is absent.
    @Test(arguments: ["", "{}", "listen: 1\n", "[]", "~"])
    func everyErrorNamesALineEvenForWhatIsAbsent(yaml: String) {
        guard case .failure(let error) = ConfigLoader.load(yaml: yaml) else {
            Issue.record("'\(yaml)' is not a configuration")
            return
        }
        #expect(!error.issues.isEmpty)
        for issue in error.issues {
            #expect((issue.line ?? 0) >= 1, "\(issue)")
        }
    }

    @Test func validConfigurationLoadsWithEveryValue() throws {
        let config = try load(Self.valid).get()
        #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(config.threads == 2)
        #expect(config.limits == Limits(maxHeaderBytes: 16 * 1024, maxBodyBytes: 2 * 1024 * 1024))
        #expect(config.drainTimeout == .seconds(5))
        #expect(config.admin.tokens == [AdminToken(name: "ops", role: .operator, sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")])
        #expect(config.store == .postgres(url: "postgres://app:secret@db:5432/cutover"))
        #expect(config.store.redacted == "postgres://app:***@db:5432/cutover")
        let old = try #require(config.backend(named: "old"))
        #expect(old.url == BackendURL(scheme: .http, host: "127.0.0.1", port: 9001))
        #expect(old.poolSize == 8)
        #expect(old.connectTimeout == .milliseconds(250))
        #expect(old.responseTimeout == .seconds(2))
        let new = try #require(config.backend(named: "new"))
        #expect(new.url.port == 443)
        #expect(new.hostHeader == "orders.example.com")
        #expect(new.tls == BackendTLS(caFile: nil, verify: false, serverName: "orders"))
        #expect(config.routes.map(\.name) == ["order-by-id", "static"])
        #expect(config.routes[0].match.methods == ["GET", "PUT"])
        #expect(config.routes[0].match.path?.text == "/orders/{id}")
        #expect(config.routes[0].limits == config.limits)
        #expect(config.routes[1].match.prefix == "/static/")
        #expect(config.routes[1].phase == .new)
        #expect(config.routes[1].limits.maxBodyBytes == 0)
        #expect(config.routes[1].limits.maxHeaderBytes == 16 * 1024)
    }

    @Test func defaultsApplyWhereTheDocumentIsSilent() throws {
        let config = try load("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends:
              old: { url: "http://127.0.0.1:9001" }
            """).get()
        #expect(config.store == .sqlite(path: "cutover.db"))
        #expect(config.threads == nil)
        #expect(config.limits == .defaults)
        #expect(config.routes.isEmpty)
        #expect(config.backends[0].poolSize == Backend.defaultPoolSize)
        #expect(config.backends[0].connectTimeout == Backend.defaultConnectTimeout)
        #expect(config.drainTimeout == .seconds(30))
    }

    @Test func unknownKeyIsReportedWithPathLineAndSuggestion() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends:
              old: { url: "http://127.0.0.1:9001", pool_sise: 4 }
            """)
        #expect(found.count == 1)
        #expect(found.first?.path.description == "backends.old.pool_sise")
        #expect(found.first?.line == 4)
        #expect(found.first?.message == "unknown key 'pool_sise'")
        #expect(found.first?.fix?.contains("did you mean 'pool_size'?") == true)
    }

    /// Found by fuzzing: a mapping used as a backend's name was skipped, and a configuration with no backend loaded.
    @Test func aKeyThatIsNotAWordIsReportedNeverSkipped() {
        let backends = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: {{ url: "http://127.0.0.1:9001" } }
            """)
        #expect(backends.first?.path.description == "backends")
        #expect(backends.first?.line == 3)
        #expect(backends.first?.message == "a backend's name must be a plain word, found a mapping")

        let none = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: {}
            """)
        #expect(none.map(\.message) == ["no backends: requests need at least 'old'"], "found by fuzzing: it loaded with no backend")
        #expect(none.first?.line == 3)

        let nested = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            routes:
              - name: a
                match: { path: "/a" }
                phase: shadow
                shadow:
                  primary_headers: { [X-Id]: /id }
                compare:
                  sort_arrays: { [/items]: /id }
            """)
        #expect(nested.map(\.message).contains("a header name must be a plain word, found a list"))
        #expect(nested.map(\.message).contains("an array's path must be a plain word, found a list"))
        #expect(nested.allSatisfy { $0.line != nil })
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let found = issues("""
            listen: "127.0.0.1"
            threads: many
            admin: { listen: "127.0.0.1:9090" }
            backends:
              old: { url: "ftp://127.0.0.1:9001", connect_timeout: soon }
            routes:
              - name: a
                match: { path: "/x/{id" }
                phase: old
              - name: a
                match: { path: "/y" }
                phase: sideways
            """)
        let paths = found.map(\.path.description)
        #expect(paths == ["listen", "threads", "backends.old.url", "backends.old.connect_timeout",
                          "routes[0].match.path", "routes[1].name", "routes[1].phase"])
        #expect(found.map(\.line) == [1, 2, 5, 5, 8, 10, 12])
        #expect(found.allSatisfy { $0.line != nil && $0.column != nil })
    }

    @Test func wrongTypeNamesWhatWasExpected() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: [old, new]
            """)
        #expect(found.count == 1)
        #expect(found[0].path.description == "backends")
        #expect(found[0].message.contains("expected a mapping from backend name to its settings, found a list"))
        #expect(found[0].line == 3)
    }

    @Test func duplicateRouteNamesAreRefused() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
            routes:
              - { name: orders, match: { path: "/orders" }, phase: old }
              - { name: orders, match: { path: "/orders/{id}" }, phase: old }
            """)
        #expect(found.map(\.path.description) == ["routes[1].name"])
        #expect(found[0].message == "another route is already named 'orders'")
        #expect(found[0].line == 6)
    }

    @Test func routeNamingAMissingBackendIsRefusedWithTheKnownOnes() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
            routes:
              - name: orders
                match: { path: "/orders" }
                phase: new
                backends: { new: neww }
            """)
        #expect(found.count == 1)
        #expect(found[0].path.description == "routes[0].backends.new")
        #expect(found[0].line == 8)
        #expect(found[0].message.contains("names backend 'neww' as its new side, but no such backend is configured"))
        #expect(found[0].fix?.contains("did you mean 'new'?") == true)
    }

    @Test func routeNeedsANewBackendEvenWhenItRelyOnTheDefaultName() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            routes:
              - { name: orders, match: { path: "/orders" }, phase: old }
            """)
        #expect(found.map(\.path.description) == ["routes[0].backends.new"])
        #expect(found[0].fix?.contains("add backends.new") == true)
    }

    @Test func unparsableDurationsAndSizesSayHowToWriteThem() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            limits: { max_body_bytes: lots }
            shutdown: { drain_timeout: 10 parsecs }
            backends: { old: { url: "http://127.0.0.1:9001", response_timeout: 0ms } }
            """)
        #expect(found.map(\.path.description) == ["limits.max_body_bytes", "shutdown.drain_timeout", "backends.old.response_timeout"])
        #expect(found[0].fix?.contains("KiB, MiB or GiB") == true)
        #expect(found[1].fix?.contains("250ms, 2s or 1m30s") == true)
        #expect(found[2].message.contains("too short"))
    }

    @Test func missingRequiredKeysAreNamed() {
        let found = issues("""
            threads: 2
            """)
        #expect(found.map(\.path.description) == ["listen", "admin", "backends"])
    }

    @Test func invalidYAMLIsReportedWithItsLine() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090"
            backends: {}
            """)
        #expect(found.count == 1)
        #expect(found[0].message.hasPrefix("not valid YAML"))
        #expect(found[0].line != nil)
    }

    @Test func duplicateKeysInAMappingAreRefused() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            listen: "127.0.0.1:8081"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            """)
        #expect(found.count == 1)
        #expect(found[0].message.contains("appears twice"))
    }

    @Test func tokensMustBeDigestsWithUniqueNames() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin:
              listen: "127.0.0.1:9090"
              tokens:
                - { name: ops, role: operator, sha256: "not-a-digest" }
                - { name: ops, role: admin, sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            """)
        #expect(found.map(\.path.description) == ["admin.tokens[0].sha256", "admin.tokens[1].name", "admin.tokens[1].role"])
        #expect(found[1].message == "a token named 'ops' is already listed")
        #expect(found[2].message == "'admin' is not one of viewer | operator")
    }

    @Test func matchAndPhaseMistakesAreExplained() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
            routes:
              - { name: a, match: { methods: [get], prefix: "api" }, phase: old }
              - { name: b, match: { path: "/x", prefix: "/x" }, phase: old }
              - { name: c, match: { methods: [CONNECT] }, phase: gray }
            """)
        #expect(found.map(\.path.description) == ["routes[0].match.methods[0]", "routes[0].match.prefix", "routes[1].match",
                                                  "routes[2].match.methods[0]", "routes[2].phase"])
        #expect(found[0].fix == "methods are upper case, as GET or POST")
        #expect(found[1].fix == "write it as /api")
        #expect(found[4].message == "route 'c' has neither 'id' nor 'aggregate', so it cannot be routed in phase gray")
    }

    @Test func listenersMustNotCollide() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:8080" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            """)
        #expect(found.map(\.path.description) == ["admin.listen"])
    }

    @Test func tlsFilesMustExistAndTLSSettingsNeedHTTPS() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            tls: { listen: "127.0.0.1:8443", cert: /nonexistent/cert.pem, key: /nonexistent/key.pem }
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001", tls: { verify: false } } }
            """)
        #expect(found.map(\.path.description) == ["tls.cert", "tls.key", "backends.old.tls"])
        #expect(found[0].message.contains("'/nonexistent/cert.pem' does not exist"))
    }

    @Test func missingFileIsAnIssueNotACrash() {
        guard case .failure(let error) = ConfigLoader.load(file: "/nonexistent/cutover.yaml") else {
            Issue.record("a missing file must be refused")
            return
        }
        #expect(error.issues.count == 1)
        #expect(error.issues[0].message == "the configuration file does not exist")
    }

    @Test func shadowAndCompareSettingsLoad() throws {
        let config = try load("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            diff_queue: { size: 500, max_bytes: 64MiB }
            backends:
              old: { url: "http://127.0.0.1:9001" }
              old-secondary: { url: "http://127.0.0.1:9003" }
              new: { url: "http://127.0.0.1:9002" }
            routes:
              - name: order-by-id
                match: { methods: [GET, PUT], path: "/orders/{id}" }
                phase: shadow
                shadow: { writes: mirror, order: after-primary, sample: 0.25, max_body: 64KiB, timeout: 2s,
                          primary_headers: { X-Cutover-Primary-Id: /id } }
                compare:
                  headers: [Content-Type, ETag]
                  ignore: ["/generated_at", "/items/*/etag"]
                  redact: ["/customer/email"]
                  sort_arrays: { "/items": "/id" }
                  float_tolerance: 0.01
                  noise: { relative: 0.3, absolute: 0.001 }
              - { name: plain, match: { prefix: / }, phase: old }
            """).get()
        #expect(config.diffQueue == DiffQueueSettings(size: 500, maxBytes: 64 * 1024 * 1024))
        let route = config.routes[0]
        #expect(route.phase == .shadow)
        #expect(route.noiseBackend == "old-secondary")
        #expect(route.shadow == ShadowSettings(writes: .mirror, order: .afterPrimary, sample: 0.25, maxBody: 64 * 1024, timeout: .seconds(2),
                                               primaryHeaders: [.init(name: "X-Cutover-Primary-Id", pointer: JSONPointer(tokens: ["id"]))]))
        #expect(route.compare.headers == ["content-type", "etag"])
        #expect(route.compare.ignore.map(\.description) == ["/generated_at", "/items/*/etag"])
        #expect(route.compare.redact.map(\.description) == ["/customer/email"])
        #expect(route.compare.sortArrays == [SortRule(array: PointerPattern.parse("/items")!, key: JSONPointer(tokens: ["id"]))])
        #expect(route.compare.floatTolerance == 0.01)
        #expect(route.compare.noise == NoiseThresholds(relative: 0.3, absolute: 0.001))
        #expect(config.routes[1].shadow == .defaults)
        #expect(config.routes[1].compare == .defaults)
        let table = RoutingTable(config: config)
        #expect(table.decide(method: "GET", target: "/orders/1")
                == .shadow(primary: RoutingTarget(route: 0, backend: 0, side: .old), copy: 2, noise: 1))
        #expect(table.decide(method: "PUT", target: "/orders/1")
                == .shadow(primary: RoutingTarget(route: 0, backend: 0, side: .old), copy: 2, noise: nil), "a write is not sent twice to old")
    }

    @Test func shadowAndCompareMistakesAreExplained() {
        let found = issues("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
            routes:
              - name: a
                match: { prefix: / }
                phase: shadow
                shadow: { writes: always, sample: 2, primary_headers: { "Bad Header": /id, X-Ok: "id" } }
                compare: { ignore: [generated_at], sort_arrays: [items], noise: { relative: 5 } }
                backends: { old-secondary: old-2 }
            """)
        #expect(found.map(\.path.description) == [
            "routes[0].shadow.writes", "routes[0].shadow.sample", "routes[0].shadow.primary_headers.Bad Header",
            "routes[0].shadow.primary_headers.X-Ok", "routes[0].compare.ignore[0]", "routes[0].compare.sort_arrays",
            "routes[0].compare.noise.relative", "routes[0].backends.old-secondary",
        ])
        #expect(found[0].message == "'always' is not one of skip | mirror")
        #expect(found[4].fix?.contains("'*' stands for any one name or index") == true)
    }

    @Test func issuesFormatLikeCompilerDiagnostics() {
        let issue = ConfigIssue(path: ConfigPath.root.appending("routes").appending(index: 1).appending("phase"),
                                line: 12, column: 5, message: "bad", fix: "do better")
        #expect(issue.formatted(source: "cutover.yaml") == "cutover.yaml:12:5: routes[1].phase: bad (fix: do better)")
    }
}

@Suite("Shipped configurations", .timeLimit(.minutes(1)))
struct ShippedConfigurationTests {
    static var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    @Test(arguments: ["Config/example.yaml", "Config/demo.yaml"])
    func shippedConfigurationIsValid(file: String) throws {
        let config = try ConfigLoader.load(file: Self.root.appendingPathComponent(file).path).get()
        #expect(!config.routes.isEmpty)
    }
}
