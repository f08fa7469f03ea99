import CutoverCore
import Testing

@Suite("Durations, sizes and addresses", .timeLimit(.minutes(1)))
struct QuantitiesTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("2s", .seconds(2)), ("1m30s", .seconds(90)), ("1.5s", .milliseconds(1500)),
        ("1h", .seconds(3600)), ("0", .zero), ("10us", .microseconds(10)), ("7d", .seconds(7 * 86_400)), ("1d12h", .seconds(36 * 3600)),
    ])
    func durationsParse(text: String, expected: Duration) {
        #expect(Quantities.duration(text) == expected)
    }

    @Test(arguments: ["", "10", "s", "5 parsecs", "1.2.3s", "-1s", "1w",
                      // Each term fits, their sum does not fit 64-bit nanoseconds.
                      "2000000h2000000h2000000h", "99999999999999999999h"])
    func nonDurationsAreRefused(text: String) {
        #expect(Quantities.duration(text) == nil)
    }

    @Test(arguments: [("1024", 1024), ("64KiB", 65536), ("10MiB", 10_485_760), ("1GiB", 1 << 30), ("2MB", 2_000_000), ("0", 0)])
    func sizesParse(text: String, expected: Int) {
        #expect(Quantities.byteSize(text) == expected)
    }

    @Test(arguments: ["", "lots", "1.5B", "10 parsecs", "-1"])
    func nonSizesAreRefused(text: String) {
        #expect(Quantities.byteSize(text) == nil)
    }

    @Test func durationsFormatTheWayTheyAreWritten() {
        #expect(Quantities.format(.milliseconds(250)) == "250ms")
        #expect(Quantities.format(.seconds(90)) == "1m30s")
        #expect(Quantities.format(.seconds(30)) == "30s")
        #expect(Quantities.format(.seconds(7200)) == "2h")
    }

    @Test func listenAddressesParse() throws {
        #expect(try ListenAddress.parse("127.0.0.1:8080").get() == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress.parse("[::1]:0").get() == ListenAddress(host: "::1", port: 0))
        #expect(ListenAddress(host: "::1", port: 80).description == "[::1]:80")
        for bad in ["127.0.0.1", ":80", "host:99999", "::1:80", "[::1]80"] {
            #expect(throws: AddressError.self) { try ListenAddress.parse(bad).get() }
        }
    }

    @Test func backendURLsParse() throws {
        #expect(try BackendURL.parse("http://10.0.0.1:9001/").get() == BackendURL(scheme: .http, host: "10.0.0.1", port: 9001))
        #expect(try BackendURL.parse("https://api.example.com").get().port == 443)
        #expect(try BackendURL.parse("http://[::1]:81").get() == BackendURL(scheme: .http, host: "::1", port: 81))
        #expect(BackendURL(scheme: .https, host: "a", port: 443).authority == "a")
        #expect(BackendURL(scheme: .http, host: "::1", port: 81).authority == "[::1]:81")
        for bad in ["ftp://x", "http://", "http://x:0", "http://x/path", "http://u:p@x", "http://x:port"] {
            #expect(throws: AddressError.self) { try BackendURL.parse(bad).get() }
        }
    }

    @Test func storeLocationsParse() throws {
        #expect(try StoreLocation.parse("sqlite:cutover.db").get() == .sqlite(path: "cutover.db"))
        #expect(try StoreLocation.parse("sqlite:///var/lib/cutover.db").get() == .sqlite(path: "/var/lib/cutover.db"))
        #expect(try StoreLocation.parse("postgresql://u@h:5432/db").get() == .postgres(url: "postgresql://u@h:5432/db"))
        for bad in ["mysql://x/db", "sqlite:", "postgres://h:5432", "postgres:///db"] {
            #expect(throws: AddressError.self) { try StoreLocation.parse(bad).get() }
        }
    }
}
