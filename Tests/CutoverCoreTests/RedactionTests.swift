import CutoverCore
import Testing

/// What is kept of a difference and a request target once a route's redaction applies.
@Suite("Redaction", .timeLimit(.minutes(1)))
struct RedactionTests {
    func redacted(_ old: String, _ new: String, redact: [String]) throws -> [FieldDifference] {
        let patterns = redact.map { PointerPattern.parse($0)! }
        return JSONRedactor.redact(try differences(old, new), patterns: patterns)
    }

    func texts(_ differences: [FieldDifference]) -> String {
        differences.map { "\($0.path) \($0.old ?? "-") \($0.new ?? "-")" }.joined(separator: "\n")
    }

    @Test func aDifferenceAtTheRedactedPathShowsNeitherValue() throws {
        let found = try redacted(#"{"card":{"number":"4111"}}"#, #"{"card":{"number":"5500"}}"#, redact: ["/card/number"])
        #expect(found.map(\.path) == ["/card/number"])
        #expect(found[0].old == "[redacted]" && found[0].new == "[redacted]")
    }

    @Test func aDifferenceAtAParentKeepsItsValueWithTheSecretReplaced() throws {
        let found = try redacted(#"{"card":{"number":"4111","brand":"visa"}}"#, #"{"card":null}"#, redact: ["/card/number"])
        #expect(found.map(\.path) == ["/card"])
        #expect(found[0].old == #"{"number":"[redacted]","brand":"visa"}"#)
        #expect(found[0].new == "null")
    }

    @Test func aDifferenceAtTheRootIsSearchedToo() throws {
        let found = try redacted(#"{"card":{"number":"4111"}}"#, #"[1]"#, redact: ["/card/number"])
        #expect(found.map(\.path) == ["/"])
        #expect(!texts(found).contains("4111"))
        #expect(found[0].old == #"{"card":{"number":"[redacted]"}}"#)
    }

    @Test func wildcardsBelowAParentApplyToEveryElement() throws {
        let found = try redacted(#"{"cards":[{"number":"4111"},{"number":"5500"}]}"#, #"{"cards":null}"#, redact: ["/cards/*/number"])
        #expect(found.map(\.kind) == [.type])
        #expect(!texts(found).contains("4111") && !texts(found).contains("5500"), "\(texts(found))")
        #expect(found[0].old == #"[{"number":"[redacted]"},{"number":"[redacted]"}]"#)
    }

    @Test func aLengthDifferenceKeepsItsCounts() throws {
        let found = try redacted(#"{"cards":[{"number":"4111"},{"number":"5500"}]}"#, #"{"cards":[{"number":"4111"}]}"#,
                                 redact: ["/cards/*/number"])
        #expect(texts(found) == "/cards 2 elements 1 elements")
    }

    @Test func aValueShortenedForDisplayCannotBeSearchedAndIsReplacedWhole() throws {
        let padding = String(repeating: "x", count: 400)
        let found = try redacted(#"{"card":{"pad":"\#(padding)","number":"4111"}}"#, #"{"card":1}"#, redact: ["/card/number"])
        #expect(found.map(\.path) == ["/card"])
        #expect(found[0].old == "[redacted]")
        #expect(found[0].new == "1")
    }

    @Test func differencesElsewhereAreKeptAsTheyAre() throws {
        let found = try redacted(#"{"card":{"number":"4111"},"total":1}"#, #"{"card":{"number":"4111"},"total":2}"#,
                                 redact: ["/card/number"])
        #expect(texts(found) == "/total 1 2")
    }

    @Test(arguments: [
        ("/orders?access_token=abc&page=2", "/orders?access_token=[redacted]&page=2"),
        ("/orders?page=2&API_KEY=abc", "/orders?page=2&API_KEY=[redacted]"),
        ("/orders?sig=a%3Db&x=1&password=", "/orders?sig=[redacted]&x=1&password=[redacted]"),
        ("/orders?%74oken=abc", "/orders?%74oken=[redacted]"),
        ("/orders?page=2", "/orders?page=2"),
        ("/orders", "/orders"),
        ("http://shop.example/orders?token=abc", "http://shop.example/orders?token=[redacted]"),
    ])
    func secretQueryParametersAreReplaced(target: String, expected: String) {
        #expect(JSONRedactor.redact(target: target) == expected)
    }

    @Test func aRouteNamesMoreQueryParameters() {
        #expect(JSONRedactor.redact(target: "/o?ssn=123&Account=9&page=1", extra: ["ssn", "account"]) == "/o?ssn=[redacted]&Account=[redacted]&page=1")
    }

    @Test func theConfigurationNamesMoreQueryParameters() throws {
        let config = try ConfigLoader.load(yaml: """
        listen: "127.0.0.1:8080"
        admin: { listen: "127.0.0.1:9090" }
        backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
        routes:
          - { name: orders, match: { prefix: /orders }, phase: shadow, compare: { redact_query: [SSN, account] } }
        """).get()
        #expect(config.routes[0].compare.redactQuery == ["ssn", "account"])
    }
}
