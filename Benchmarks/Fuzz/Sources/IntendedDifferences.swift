/// Rewrites of an input that undo one intended difference between Cutover's parsers and llhttp: where we take a
/// message llhttp refuses only because of it, llhttp must frame the rewritten input exactly as we framed the original.
enum IntendedDifferences {
    /// The input with every HTAB in a `Content-Length` or `Transfer-Encoding` field line of the given heads written as
    /// SP. RFC 9110 §5.6.3 lets optional whitespace be HTAB as well as SP, and we trim both; llhttp takes a trailing SP
    /// but refuses a trailing HTAB in a length, and reads `chunked` followed by HTAB as another coding.
    static func framingTabsAsSpaces(_ bytes: [UInt8], heads: [Range<Int>]) -> [UInt8] {
        var result = bytes
        for head in heads { framingTabsAsSpaces(&result, head) }
        return result
    }

    private static func framingTabsAsSpaces(_ result: inout [UInt8], _ head: Range<Int>) {
        let names = [Array("content-length:".utf8), Array("transfer-encoding:".utf8)]
        var lineStart = head.lowerBound
        while lineStart < head.upperBound {
            var lineEnd = lineStart
            while lineEnd < head.upperBound, result[lineEnd] != 0x0A { lineEnd += 1 }
            for name in names where lineEnd - lineStart > name.count
                && zip(result[lineStart..<(lineStart + name.count)], name).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) {
                for index in (lineStart + name.count)..<lineEnd where result[index] == 0x09 { result[index] = 0x20 }
            }
            lineStart = lineEnd + 1
        }
    }

    /// The input with its heads naming their length once: a second `Content-Length` line renamed (`Xontent-Length`,
    /// same size) and a list value cut to its first element (the rest blanked). RFC 9110 §8.6 lets a recipient take
    /// a length repeated with the same value, which we do (and refuse differing ones); llhttp refuses any repetition.
    static func singleLength(_ bytes: [UInt8], heads: [Range<Int>]) -> [UInt8] {
        var result = bytes
        let name = Array("content-length:".utf8)
        for head in heads {
            var seen = false
            var lineStart = head.lowerBound
            while lineStart < head.upperBound {
                var lineEnd = lineStart
                while lineEnd < head.upperBound, result[lineEnd] != 0x0A { lineEnd += 1 }
                if lineEnd - lineStart > name.count,
                   zip(result[lineStart..<(lineStart + name.count)], name).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) {
                    if seen {
                        result[lineStart] = UInt8(ascii: "X")
                    } else {
                        seen = true
                        if let comma = result[(lineStart + name.count)..<lineEnd].firstIndex(of: UInt8(ascii: ",")) {
                            for index in comma..<lineEnd where result[index] != 0x0D { result[index] = 0x20 }
                        }
                    }
                }
                lineStart = lineEnd + 1
            }
        }
        return result
    }
}
