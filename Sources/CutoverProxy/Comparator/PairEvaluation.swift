import CompressNIO
import CutoverCore
import Foundation
import NIOCore

/// Turns a captured pair into what the comparator counts: the outcome of
/// comparing old and new, the fields the noise baseline differed in, and (when
/// wanted) a redacted sample. Runs off the event loops.
enum PairEvaluation {
    /// Request headers never stored as sent.
    static let secretRequestHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"]
    /// Response headers never stored as sent.
    static let secretResponseHeaders: Set<String> = ["set-cookie"]

    struct Result {
        var outcome: DiffAggregator.Outcome
        var noiseFields: [String]?
        var differences: [FieldDifference]
        var old: CapturedResponse
        var new: CapturedResponse?
        var newError: String?
    }

    static func evaluate(_ pair: ShadowPair) -> Result {
        let old = response(pair.old)
        var noiseFields: [String]?
        if let noise = pair.noise {
            let comparison = ResponseComparison.compare(old, response(noise), rules: pair.rules)
            noiseFields = comparison.bodyCompared ? comparison.fields : nil
        }
        switch pair.new {
        case .failed(let reason):
            let difference = FieldDifference(field: DiffAggregator.errorField, path: DiffAggregator.errorField, kind: .status,
                                             old: String(old.status), new: reason)
            return Result(outcome: .newFailed, noiseFields: noiseFields, differences: [difference], old: old, new: nil, newError: reason)
        case .answered(let answer):
            let new = response(answer)
            let comparison = ResponseComparison.compare(old, new, rules: pair.rules)
            let outcome: DiffAggregator.Outcome = comparison.bodyCompared ? .compared(fields: comparison.fields) : .notCompared
            return Result(outcome: outcome, noiseFields: noiseFields, differences: comparison.differences, old: old, new: new, newError: nil)
        }
    }

    /// The sample kept for a pair: request line and headers, both answers and the differences, all redacted.
    static func sample(_ pair: ShadowPair, _ result: Result, time: Int64) -> DiffSample {
        let redact = pair.rules.redact
        var method = "", target = ""
        var headers: [CapturedResponse.Header] = []
        if let head = try? RequestParser.parse(head: pair.requestHead) {
            method = head.methodText
            target = JSONRedactor.redact(target: head.targetText, extra: pair.rules.redactQuery)
            headers = Self.headers(head.raw).map { header in
                secretRequestHeaders.contains(header.name) ? .init(name: header.name, value: JSONRedactor.placeholder) : header
            }
        }
        func stored(_ response: CapturedResponse) -> SampleResponse {
            var copy = response
            copy.headers = copy.headers.map { header in
                secretResponseHeaders.contains(header.name) ? .init(name: header.name, value: JSONRedactor.placeholder) : header
            }
            copy.body = JSONRedactor.redact(copy.body, patterns: redact)
            return SampleResponse(copy)
        }
        return DiffSample(route: pair.route, time: time, requestID: pair.requestID,
                          request: SampleRequest(method: method, target: target, headers: headers),
                          old: stored(result.old), new: result.new.map(stored), newError: result.newError,
                          differences: JSONRedactor.redact(result.differences, patterns: redact))
    }

    /// A captured answer as the diff engine takes it: headers named in lower case, chunk framing
    /// removed, gzip and deflate bodies decompressed (up to 8 × the capture cap; beyond, not compared).
    static func response(_ answer: CapturedAnswer) -> CapturedResponse {
        let headers = Self.headers(answer.head, skippingStartLine: true)
        var body = answer.body
        var truncated = answer.truncated
        if answer.chunked {
            if let data = ChunkedDecoder.dechunk(body) { body = data } else { truncated = true }
        }
        if !truncated, let encoding = headers.first(where: { $0.name == "content-encoding" })?.value.lowercased() {
            let algorithm: CompressionAlgorithm?
            switch encoding {
            case "gzip", "x-gzip": algorithm = .gzip()
            case "deflate": algorithm = .zlib()
            default: algorithm = nil
            }
            if let algorithm {
                if let plain = try? body.decompress(with: algorithm, maxSize: max(body.readableBytes * 64, 1 << 20)) {
                    body = plain
                } else {
                    truncated = true
                }
            }
        }
        return CapturedResponse(status: answer.status, headers: headers, body: Array(body.readableBytesView), truncated: truncated)
    }

    /// The header fields of a raw head, names in lower case.
    static func headers(_ raw: ByteBuffer, skippingStartLine: Bool = true) -> [CapturedResponse.Header] {
        var result: [CapturedResponse.Header] = []
        raw.withUnsafeReadableBytes { bytes in
            HeaderLines.forEach(in: bytes) { line in
                result.append(.init(name: String(decoding: bytes[line.name], as: UTF8.self).lowercased(),
                                    value: String(decoding: bytes[line.value], as: UTF8.self)))
            }
        }
        return result
    }
}
