import CutoverAdmin
import CutoverCore
import CutoverTestSupport
import Foundation
import Hummingbird
import Prometheus
import Testing
import Yams

/// Docs/openapi.yaml against the running admin listener: every documented call
/// is served and answers as documented, and every served call is documented.
@Suite("OpenAPI document", .timeLimit(.minutes(1)))
struct OpenAPITests {
    /// The document, read afresh (a `[String: Any]` cannot be shared between tests). A document that cannot be read
    /// or parsed, or that has no paths, fails the test instead of checking nothing.
    static func document() throws -> [String: Any] {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Docs/openapi.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any], "Docs/openapi.yaml is not a YAML mapping")
        return document
    }

    static func paths() throws -> [String: [String: Any]] {
        let paths = try #require(try document()["paths"] as? [String: [String: Any]], "Docs/openapi.yaml has no paths")
        try #require(paths.count >= 10, "Docs/openapi.yaml documents only \(paths.count) paths")
        return paths
    }
    static var methods: [String] { ["get", "put", "post", "patch", "delete"] }

    @Test func everyServedCallIsDocumentedAndEveryDocumentedCallServed() throws {
        #expect(try Self.document()["openapi"] as? String == "3.0.3")
        let environment = AdminEnvironment(config: { DiffsAPITests.config }, store: { nil },
                                           health: { HealthReport(status: "ok", version: "0", routes: 0, backends: 0, uptimeSeconds: 0) })
        let router = AdminServer.makeRouter(registry: PrometheusCollectorRegistry(), environment: environment)
        let served = Set(router.routes.map { "\($0.method.rawValue) /\($0.path.description)".replacingOccurrences(of: "//", with: "/") })
        var documented: Set<String> = []
        for (path, operations) in try Self.paths() {
            for method in Self.methods where operations[method] != nil {
                // Hummingbird writes a path parameter as {id}, like OpenAPI.
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(served == documented)
    }

    @Test func documentedCallsAnswerAsTheDocumentSays() async throws {
        let (store, cleanup) = try await DiffsAPITests.filledStore()
        defer { cleanup() }
        let environment = AdminEnvironment(config: { DiffsAPITests.config }, store: { store },
                                           health: { HealthReport(status: "ok", version: "0", routes: 2, backends: 2, uptimeSeconds: 1) })
        try await withAdmin(environment: environment) { port in
            // Reads before the delete, so they find data.
            for (path, operations) in try Self.paths().sorted(by: { $0.key < $1.key }) {
                for method in Self.methods.filter({ operations[$0] != nil }).sorted(by: { $0 == "delete" ? false : $1 == "delete" }) {
                    let operation = operations[method] as! [String: Any]
                    let parameters = (operation["parameters"] as? [[String: Any]]) ?? []
                    let query = parameters.compactMap { parameter -> String? in
                        guard parameter["in"] as? String == "query", let example = parameter["example"] else { return nil }
                        return "\(parameter["name"]!)=\(example)"
                    }.joined(separator: "&")
                    var resolved = path
                    for parameter in parameters where parameter["in"] as? String == "path" {
                        resolved = resolved.replacingOccurrences(of: "{\(parameter["name"]!)}", with: "\(parameter["example"]!)")
                    }
                    let target = resolved + (query.isEmpty ? "" : "?" + query)
                    let requestBody = ((operation["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any]
                    let body = try requestBody?["example"].map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) } ?? ""
                    let open = (operation["security"] as? [Any])?.isEmpty == true
                    let responses = operation["responses"] as! [String: Any]

                    if !open {
                        let refused = try await Self.call(port, method, target, token: nil)
                        #expect(refused.status == 401 && responses["401"] != nil, "\(method) \(target) without a token")
                    }
                    let response = try await Self.call(port, method, target, token: DiffsAPITests.operatorSecret, body: body)
                    // An environment that carries out no host runs (the gateway without a host_cutover section) answers a
                    // rollback with the documented 409; the 202 is checked where a gateway undoes a run in a lab.
                    let expected = path.hasPrefix("/api/v1/host/") && path.hasSuffix("/rollback") && environment.hostRollback == nil
                        ? "409" : try #require(responses.keys.filter { $0.hasPrefix("2") }.min(), "\(method) \(path) documents no success")
                    #expect("\(response.status)" == expected, "\(method) \(target): \(response.text)")
                    let documented = try #require(responses[expected] as? [String: Any])
                    let content = try #require(documented["content"] as? [String: Any])
                    if let json = content["application/json"] as? [String: Any] {
                        #expect(response.value("content-type") == "application/json")
                        let value = try JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed])
                        let problems = Self.validate(value, against: json["schema"] as! [String: Any], at: "\(method) \(path)")
                        #expect(problems.isEmpty, "\(problems)")
                    }
                }
            }
            let unknown = try await Self.call(port, "get", "/api/v1/diffs/summary?route=nope", token: DiffsAPITests.viewerSecret)
            let error = try JSONSerialization.jsonObject(with: Data(unknown.body))
            #expect(Self.validate(error, against: ["$ref": "#/components/schemas/Error"], at: "error").isEmpty)
        }
        await store.close()
    }

    static func call(_ port: Int, _ method: String, _ target: String, token: String?, body: String = "") async throws -> TestResponse {
        let client = try await TestConnection.connect(port: port)
        let authorization = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        try await client.send("\(method.uppercased()) \(target) HTTP/1.1\r\nHost: admin\r\n\(authorization)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let response = try await client.response()
        await client.close()
        return response
    }

    /// What in `value` does not match `schema` (types, required properties, enums, nested objects and arrays).
    static func validate(_ value: Any, against schema: [String: Any], at path: String) -> [String] {
        if let reference = schema["$ref"] as? String {
            let name = reference.split(separator: "/").last.map(String.init) ?? ""
            let schemas = ((try? Self.document())?["components"] as? [String: Any])?["schemas"] as? [String: Any]
            guard let resolved = schemas?[name] as? [String: Any] else { return ["\(path): unknown schema \(reference)"] }
            return validate(value, against: resolved, at: path)
        }
        if value is NSNull { return schema["nullable"] as? Bool == true ? [] : ["\(path): null where not nullable"] }
        var problems: [String] = []
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): not an object"] }
            for name in (schema["required"] as? [String]) ?? [] where object[name] == nil {
                problems.append("\(path): missing required '\(name)'")
            }
            let properties = (schema["properties"] as? [String: Any]) ?? [:]
            for (name, member) in object {
                // A map (`additionalProperties: SCHEMA`) documents every name its members may have.
                guard let property = properties[name] as? [String: Any] ?? schema["additionalProperties"] as? [String: Any] else {
                    problems.append("\(path): undocumented property '\(name)'")
                    continue
                }
                problems += validate(member, against: property, at: "\(path)/\(name)")
            }
        case "array":
            guard let array = value as? [Any] else { return ["\(path): not an array"] }
            for (index, item) in array.enumerated() {
                problems += validate(item, against: schema["items"] as? [String: Any] ?? [:], at: "\(path)/\(index)")
            }
        case "string":
            guard let text = value as? String else { return ["\(path): not a string"] }
            if let options = schema["enum"] as? [String], !options.contains(text) { problems.append("\(path): '\(text)' not in \(options)") }
        case "integer":
            guard let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded() else { return ["\(path): not an integer"] }
        case "number":
            guard value is NSNumber else { return ["\(path): not a number"] }
        case "boolean":
            guard value is Bool else { return ["\(path): not a boolean"] }
        default:
            break
        }
        return problems
    }
}
