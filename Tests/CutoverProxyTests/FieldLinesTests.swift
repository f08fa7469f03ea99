@testable import CutoverProxy
import Testing

/// The parts of a head both parsers share.
@Suite("Field lines")
struct FieldLinesTests {
    func withBytes<T>(_ text: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        Array(text.utf8).withUnsafeBytes(body)
    }

    func split(_ line: String) -> (String, String)? {
        withBytes(line) { bytes in
            FieldLines.split(bytes, 0, bytes.count).map {
                (String(decoding: bytes[$0.name], as: UTF8.self), String(decoding: bytes[$0.value], as: UTF8.self))
            }
        }
    }

    func contentLength(_ value: String, after previous: Int? = nil) -> FieldLines.ContentLength {
        withBytes(value) { FieldLines.contentLength($0, 0..<$0.count, after: previous) }
    }

    @Test func aFieldLineIsATokenAColonAndAValueOfFieldBytes() {
        #expect(split("Content-Type: \t text/plain \t") ?? ("", "") == ("Content-Type", "text/plain"))
        #expect(split("X-Empty:") ?? ("?", "?") == ("X-Empty", ""))
        #expect(split(" Folded: x") == nil, "an obsolete fold")
        #expect(split("Name : x") == nil, "whitespace before the colon")
        #expect(split(": x") == nil, "no name")
        #expect(split("No colon") == nil)
        #expect(split("X: a\rb") == nil, "a bare CR")
        #expect(split("X: a\u{0}b") == nil, "a NUL")
        #expect(split("X: caf\u{E9}") ?? ("", "") == ("X", "caf\u{E9}"), "obs-text passes")
    }

    @Test func aContentLengthIsOneAgreedDecimalLength() {
        #expect(contentLength("42") == .length(42))
        #expect(contentLength(" 7 , 7 ") == .length(7), "a list of one repeated length")
        #expect(contentLength("7, 8") == .conflicting)
        #expect(contentLength("7", after: 8) == .conflicting, "against an earlier header")
        #expect(contentLength("7", after: 7) == .length(7))
        for invalid in ["", ",", "5, , 5", "-1", "0x10", "1e3", "12a"] {
            #expect(contentLength(invalid) == .invalid, "'\(invalid)'")
        }
    }

    @Test func connectionOptionsNeverListHost() {
        var options = FieldLines.ConnectionOptions()
        withBytes("Keep-Alive, X-Trace, host, Upgrade") { options.add($0, 0..<$0.count) }
        withBytes("CLOSE") { options.add($0, 0..<$0.count) }
        #expect(options.close && options.keepAlive && options.upgrade)
        #expect(options.tokens.map { String(decoding: $0, as: UTF8.self) } == ["x-trace", "upgrade"])
    }
}
