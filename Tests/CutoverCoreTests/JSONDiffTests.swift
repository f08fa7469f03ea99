import CutoverCore
import Testing

func differences(_ old: String, _ new: String, rules: CompareRules = .defaults) throws -> [FieldDifference] {
    let a = try #require(JSONDocument.parse(Array(old.utf8)), "old is not JSON")
    let b = try #require(JSONDocument.parse(Array(new.utf8)), "new is not JSON")
    return JSONDiff.differences(old: a, new: b, rules: rules)
}

func rules(ignore: [String] = [], sort: [(String, String)] = [], tolerance: Double = 0) -> CompareRules {
    var rules = CompareRules.defaults
    rules.ignore = ignore.map { PointerPattern.parse($0)! }
    rules.sortArrays = sort.map { SortRule(array: PointerPattern.parse($0.0)!, key: JSONPointer.parse($0.1)!) }
    rules.floatTolerance = tolerance
    return rules
}

@Suite("JSON parsing", .timeLimit(.minutes(1)))
struct JSONDocumentTests {
    @Test(arguments: ["{}", "[]", "0", "-1.5e+3", "\"a\\u00e9\\n\"", "true", "null", " {\"a\":[1,{\"b\":null}],\"c\":\"d\"} ",
                      "[[[[[]]]]]", "{\"\":\"\"}"])
    func validDocumentsParse(text: String) {
        #expect(JSONDocument.parse(Array(text.utf8)) != nil)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", "-", "\"\u{01}\"", "\"\\x\"", "[1] 2", "tru",
                      "{\"a\":1,}", "\"unterminated", "{'a':1}", "NaN", "[1 2]"])
    func invalidDocumentsAreRefused(text: String) {
        #expect(JSONDocument.parse(Array(text.utf8)) == nil)
    }

    @Test func nestingBeyondTheLimitIsRefused() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(JSONDocument.parse(Array(deep.utf8)) == nil)
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(JSONDocument.parse(Array(fine.utf8)) != nil)
    }

    @Test func valuesAreReadBack() throws {
        let document = try #require(JSONDocument.parse(Array("{\"id\":7,\"name\":\"caf\\u00e9\",\"items\":[{\"sku\":\"a/b\"}],\"ok\":true}".utf8)))
        #expect(document.root["id"]?.number == 7)
        #expect(document.root["name"]?.string == "café")
        #expect(document.root.value(at: JSONPointer.parse("/items/0/sku")!)?.string == "a/b")
        #expect(document.root["ok"]?.bool == true)
        #expect(document.root["items"]?.text == "[{\"sku\":\"a/b\"}]")
        #expect(document.root.members.map(\.key) == ["id", "name", "items", "ok"])
    }

    @Test func pointersEscapeAndParse() {
        #expect(JSONPointer.parse("/a~1b/c~0d")?.tokens == ["a/b", "c~d"])
        #expect(JSONPointer.parse("")?.tokens == [])
        #expect(JSONPointer.parse("a") == nil)
        #expect(JSONPointer.parse("/a~2") == nil)
        #expect(JSONPointer(tokens: ["a/b", "c~d"]).description == "/a~1b/c~0d")
        #expect(PointerPattern.parse("/items/*/etag")!.matches(["items", "3", "etag"]))
        #expect(!PointerPattern.parse("/items/*/etag")!.matches(["items", "3"]))
    }
}

@Suite("JSON diff", .timeLimit(.minutes(1)))
struct JSONDiffTests {
    @Test func equalDocumentsHaveNoDifferencesWhateverTheMemberOrder() throws {
        #expect(try differences("{\"a\":1,\"b\":[1,2],\"c\":{\"d\":null}}", "{\"c\":{\"d\":null},\"b\":[1,2],\"a\":1}").isEmpty)
    }

    @Test func numbersCompareByValue() throws {
        #expect(try differences("{\"a\":1,\"b\":1.50,\"c\":1e2}", "{\"a\":1.0,\"b\":1.5,\"c\":100}").isEmpty)
        #expect(try differences("{\"id\":9007199254740993}", "{\"id\":9007199254740992}").map(\.kind) == [.value])
    }

    @Test func floatToleranceAppliesToNonIntegers() throws {
        #expect(try differences("{\"p\":10.001}", "{\"p\":10.0}", rules: rules(tolerance: 0.005)).isEmpty)
        #expect(try differences("{\"p\":10.01}", "{\"p\":10.0}", rules: rules(tolerance: 0.005)).count == 1)
    }

    @Test func stringsCompareByTheirDecodedText() throws {
        #expect(try differences("{\"n\":\"caf\\u00e9\"}", "{\"n\":\"café\"}").isEmpty)
        #expect(try differences("{\"n\":\"a\"}", "{\"n\":\"b\"}") == [FieldDifference(field: "/n", path: "/n", kind: .value, old: "\"a\"", new: "\"b\"")])
    }

    @Test func everyKindOfDifferenceIsTypedAtItsPath() throws {
        let found = try differences(
            "{\"gone\":1,\"changed\":\"x\",\"typed\":1,\"nulled\":2,\"list\":[1,2,3],\"nested\":{\"deep\":true}}",
            "{\"changed\":\"y\",\"typed\":\"1\",\"nulled\":null,\"list\":[1,2],\"nested\":{\"deep\":false},\"added\":[]}")
        let summary = found.map { "\($0.kind.rawValue) \($0.path)" }
        #expect(summary == ["missing /gone", "value /changed", "type /typed", "type /nulled", "length /list", "value /nested/deep", "extra /added"])
        #expect(found[0].old == "1")
        #expect(found[0].new == nil)
        #expect(found[4].old == "3 elements")
        #expect(found[6].new == "[]")
    }

    @Test func arrayIndexesCollapseInTheFieldButNotInThePath() throws {
        let found = try differences("{\"items\":[{\"p\":1},{\"p\":2},{\"p\":3}]}", "{\"items\":[{\"p\":1},{\"p\":5},{\"p\":6}]}")
        #expect(found.map(\.path) == ["/items/1/p", "/items/2/p"])
        #expect(Set(found.map(\.field)) == ["/items/*/p"])
    }

    @Test func idLikeKeysCollapse() throws {
        let found = try differences(
            "{\"byId\":{\"1001\":{\"s\":\"a\"},\"7f3c2d10-8a1b-4c2d-9e3f-0a1b2c3d4e5f\":{\"s\":\"a\"},\"deadbeefdeadbeef\":{\"s\":\"a\"},\"total\":1}}",
            "{\"byId\":{\"1001\":{\"s\":\"b\"},\"7f3c2d10-8a1b-4c2d-9e3f-0a1b2c3d4e5f\":{\"s\":\"b\"},\"deadbeefdeadbeef\":{\"s\":\"b\"},\"total\":2}}")
        #expect(found.map(\.field) == ["/byId/*/s", "/byId/*/s", "/byId/*/s", "/byId/total"])
    }

    @Test func sameElementsInAnotherOrderAreOneDifference() throws {
        let found = try differences("{\"tags\":[\"a\",\"b\",{\"x\":1,\"y\":2}]}", "{\"tags\":[{\"y\":2,\"x\":1},\"a\",\"b\"]}")
        #expect(found == [FieldDifference(field: "/tags", path: "/tags", kind: .order, old: nil, new: nil)])
    }

    @Test func arraysSortedByKeyCompareEqual() throws {
        let old = "{\"items\":[{\"id\":2,\"q\":1},{\"id\":1,\"q\":5}]}"
        let new = "{\"items\":[{\"id\":1,\"q\":5},{\"id\":2,\"q\":1}]}"
        #expect(try differences(old, new).map(\.kind) == [.order])
        #expect(try differences(old, new, rules: rules(sort: [("/items", "/id")])).isEmpty)
        let changed = "{\"items\":[{\"id\":1,\"q\":5},{\"id\":2,\"q\":9}]}"
        #expect(try differences(old, changed, rules: rules(sort: [("/items", "/id")])).map(\.path) == ["/items/1/q"])
    }

    @Test func ignoredPathsAndTheirSubtreesAreNotCompared() throws {
        let old = "{\"generated_at\":\"t1\",\"items\":[{\"etag\":\"a\",\"p\":1}],\"meta\":{\"trace\":{\"id\":1}},\"gone\":1}"
        let new = "{\"generated_at\":\"t2\",\"items\":[{\"etag\":\"b\",\"p\":1}],\"meta\":{\"trace\":{\"id\":2}},\"added\":2}"
        let found = try differences(old, new, rules: rules(ignore: ["/generated_at", "/items/*/etag", "/meta", "/gone", "/added"]))
        #expect(found.isEmpty)
    }

    @Test func differencesArePerPairBounded() throws {
        let old = "[" + (0..<500).map(String.init).joined(separator: ",") + "]"
        let new = "[" + (0..<500).map { String($0 + 1000) }.joined(separator: ",") + "]"
        #expect(try differences(old, new).count == JSONDiff.maxDifferences)
    }
}

@Suite("Response comparison", .timeLimit(.minutes(1)))
struct ResponseComparisonTests {
    func response(_ status: Int = 200, _ body: String, headers: [(String, String)] = [("content-type", "application/json")],
                  truncated: Bool = false) -> CapturedResponse {
        CapturedResponse(status: status, headers: headers.map { .init(name: $0.0, value: $0.1) }, body: Array(body.utf8), truncated: truncated)
    }

    @Test func statusAndChosenHeadersAreCompared() {
        let old = response(200, "{}", headers: [("content-type", "application/json"), ("date", "a"), ("server", "a"), ("x-v", "1")])
        let new = response(201, "{}", headers: [("content-type", "text/plain"), ("date", "b"), ("server", "b"), ("x-v", "2")])
        var rules = CompareRules.defaults
        rules.headers = ["content-type", "date", "server", "x-v"]
        let comparison = ResponseComparison.compare(old, new, rules: rules)
        #expect(comparison.fields == ["header:content-type", "header:x-v", "status"])
    }

    @Test func nonJSONBodiesCompareBySizeAndHash() {
        let comparison = ResponseComparison.compare(response(200, "<p>a</p>"), response(200, "<p>bb</p>"), rules: .defaults)
        #expect(comparison.differences.count == 1)
        #expect(comparison.differences[0].field == "body")
        #expect(comparison.differences[0].old?.hasPrefix("8 bytes, fnv1a ") == true)
        #expect(ResponseComparison.compare(response(200, "<p>a</p>"), response(200, "<p>a</p>"), rules: .defaults).differences.isEmpty)
    }

    @Test func jsonAgainstNonJSONIsATypeDifference() {
        let comparison = ResponseComparison.compare(response(200, "{\"a\":1}"), response(200, "oops"), rules: .defaults)
        #expect(comparison.differences.map(\.kind) == [.type])
    }

    @Test func truncatedBodiesAreNotCompared() {
        let comparison = ResponseComparison.compare(response(200, "{\"a\":1"), response(200, "{\"a\":2}", truncated: true), rules: .defaults)
        #expect(!comparison.bodyCompared)
        #expect(comparison.differences.isEmpty)
    }
}

@Suite("Noise thresholds", .timeLimit(.minutes(1)))
struct NoiseThresholdTests {
    @Test func diffysRuleSeparatesRealDifferencesFromNoise() {
        let rule = NoiseThresholds.defaults
        #expect(rule.isReal(raw: 100, noise: 0, compared: 1000))
        #expect(!rule.isReal(raw: 100, noise: 90, compared: 1000), "close to the noise level")
        #expect(!rule.isReal(raw: 50, noise: 60, compared: 1000), "below the noise level")
        #expect(!rule.isReal(raw: 2, noise: 0, compared: 10_000), "below 0.03 % of the compared requests")
        #expect(rule.isReal(raw: 4, noise: 0, compared: 10_000))
        #expect(!rule.isReal(raw: 0, noise: 0, compared: 0))
    }
}

@Suite("Diff summaries", .timeLimit(.minutes(1)))
struct DiffSummaryTests {
    @Test func differingCountsOnlyRequestsWithARealFieldAndNoiseTheRest() {
        let counts = RouteDiffCounts(
            route: "orders", compared: 1000, notCompared: 3,
            fields: ["/total": .init(raw: 60, noise: 0), "/nonce": .init(raw: 500, noise: 480), "/rare": .init(raw: 0, noise: 4)],
            fieldSets: [["/total"]: 10, ["/nonce", "/total"]: 50, ["/nonce"]: 450])
        let summary = RouteSummary(counts: counts, thresholds: .defaults)
        #expect(summary.compared == 1000)
        #expect(summary.differing == 60)
        #expect(summary.noise == 450)
        #expect(summary.diffRate == 0.06)
        #expect(summary.notCompared == 3)
        #expect(summary.fields.map(\.path) == ["/total", "/nonce", "/rare"])
        #expect(summary.fields.map(\.verdict) == [.difference, .noise, .noise])
        #expect(summary.fields[0].differing == 60)
        #expect(summary.fields[1].noise == 480)
    }

    @Test func withoutANoiseBaselineEveryFrequentFieldIsReal() {
        let counts = RouteDiffCounts(route: "r", compared: 100, fields: ["/a": .init(raw: 5, noise: 0)], fieldSets: [["/a"]: 5])
        let summary = RouteSummary(counts: counts, thresholds: .defaults)
        #expect(summary.differing == 5)
        #expect(summary.noise == 0)
    }
}
