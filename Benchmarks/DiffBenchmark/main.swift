// Measures the diff engine: response pairs per second on one core, for 2 KB
// JSON documents (parse both, compare under rules with an ignore and a sorted
// array). Run with: swift run -c release diff-benchmark
import CutoverCore
import Foundation

func document(seed: Int, changed: Bool) -> [UInt8] {
    var items: [String] = []
    for index in 0..<17 {
        let price = changed && index == 3 ? "19.99" : "\(10 + index).5"
        items.append("{\"id\":\(seed * 100 + index),\"sku\":\"SKU-\(index)-\(seed)\",\"name\":\"Item number \(index)\",\"qty\":\(index % 3 + 1),"
            + "\"price\":\(price),\"tags\":[\"a\",\"b\"],\"etag\":\"\(changed ? "x" : "y")\(index)\"}")
    }
    let text = "{\"id\":\(seed),\"customer\":{\"id\":\(seed * 7),\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\","
        + "\"address\":{\"street\":\"12 Analytical Way\",\"city\":\"London\",\"zip\":\"NW1\"}},"
        + "\"status\":\"\(changed ? "shipped" : "open")\",\"total\":\(changed ? 201.5 : 200.5),\"currency\":\"EUR\","
        + "\"created_at\":\"2026-11-23T10:00:00Z\",\"generated_at\":\"\(changed ? "2026-11-23T10:00:01Z" : "2026-11-23T10:00:00Z")\","
        + "\"items\":[\(items.joined(separator: ","))]}"
    return Array(text.utf8)
}

var rules = CompareRules.defaults
rules.ignore = [PointerPattern.parse("/generated_at")!, PointerPattern.parse("/items/*/etag")!]
rules.sortArrays = [SortRule(array: PointerPattern.parse("/items")!, key: JSONPointer.parse("/id")!)]

let pairs = (0..<64).map { seed in
    (CapturedResponse(status: 200, headers: [.init(name: "content-type", value: "application/json")], body: document(seed: seed, changed: false), truncated: false),
     CapturedResponse(status: 200, headers: [.init(name: "content-type", value: "application/json")], body: document(seed: seed, changed: seed % 2 == 0), truncated: false))
}
let size = pairs.map { $0.0.body.count }.reduce(0, +) / pairs.count
print("document size: \(size) bytes; half of the pairs differ in 3 fields")

var differences = 0
for _ in 0..<2_000 { differences &+= ResponseComparison.compare(pairs[0].0, pairs[0].1, rules: rules).differences.count }

var results: [Double] = []
for _ in 0..<5 {
    let start = ContinuousClock.now
    var count = 0
    while ContinuousClock.now - start < .seconds(1) {
        for (old, new) in pairs {
            differences &+= ResponseComparison.compare(old, new, rules: rules).differences.count
        }
        count += pairs.count
    }
    let elapsed = ContinuousClock.now - start
    results.append(Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
}
results.sort()
print(String(format: "pairs per second on one core: median %.0f (min %.0f, max %.0f)", results[2], results[0], results[4]))
print(String(format: "target 50000: %.2fx", results[2] / 50_000))
if differences == 42 { print("") }  // keeps the work from being optimised away
