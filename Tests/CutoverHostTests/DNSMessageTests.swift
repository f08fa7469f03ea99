import Crypto
import CutoverCore
@testable import CutoverHost
import Foundation
import Testing

/// The DNS float's wire format without a socket: messages read with every length checked
/// (compression followed backwards only), and TSIG signatures made and checked as RFC 8945 says.
@Suite("DNS messages")
struct DNSMessageTests {
    @Test func aMessageReadsBackAsWritten() throws {
        var message = DNSMessage(id: 0xBEEF, opcode: DNSMessage.opcodeUpdate)
        message.questions = [.init(name: try DNSName(parsing: "example.test"), type: DNSType.soa.rawValue, questionClass: 1)]
        message.authority = [DNSRecord(name: try DNSName(parsing: "www.example.test"), type: .a, recordClass: .inet, ttl: 60, data: [198, 18, 0, 1])]
        let read = try DNSMessage(decoding: message.encoded())
        #expect(read.id == 0xBEEF && read.opcode == 5 && !read.isResponse)
        #expect(read.questions == message.questions)
        #expect(read.authority == message.authority)
    }

    @Test func compressedNamesAreFollowedBackwards() throws {
        // A response: header, question www.example.test A, one answer whose name points at the question's (offset 12).
        var bytes: [UInt8] = [0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]
        try DNSName(parsing: "www.example.test").write(into: &bytes)
        bytes += [0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 7]
        let read = try DNSMessage(decoding: bytes)
        #expect(read.authoritative && read.isResponse)
        #expect(read.answers.first?.name == (try DNSName(parsing: "www.example.test")))
        #expect(read.answers.first?.data == [198, 18, 0, 7])
    }

    @Test(arguments: [
        ([0x12, 0x34, 0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1] as [UInt8], "points forwards"),
        ([0x12, 0x34, 0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x77, 0x77] as [UInt8], "past the end"),
        ([0x12, 0x34, 0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2] as [UInt8], "ends inside a field"),
        ([0x12, 0x34, 0x84, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 9] as [UInt8], "after the last record"),
        ([0x12, 0x34, 0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x80, 0] as [UInt8], "reserved type bits"),
    ])
    func malformedMessagesAreRefused(bytes: [UInt8], reason: String) {
        #expect { try DNSMessage(decoding: bytes) } throws: { "\($0)".contains(reason) }
    }

    @Test func anAnswerSignedWithTheKeyVerifiesAndATamperedOneDoesNot() throws {
        let key = try TSIGKey(name: "k.example", algorithm: "HMAC-SHA256", base64Secret: Data(repeating: 1, count: 32).base64EncodedString())
        let signer = TSIGSigner(key: key)
        let request = signer.sign(DNSMessage(id: 77, opcode: DNSMessage.opcodeUpdate), at: 1_800_000_000)
        // The request carries its MAC in a TSIG record that reads back.
        let sent = try DNSMessage(decoding: request.bytes)
        #expect(sent.additional.count == 1 && sent.additional[0].type == DNSType.tsig.rawValue)
        #expect(TSIGFields(sent.additional[0].data)?.mac == request.mac)
        // The server's answer, signed the way RFC 8945 §5.3 says (written out here independently of the signer).
        var answer = DNSMessage(id: 77, opcode: DNSMessage.opcodeUpdate)
        answer.isResponse = true
        let unsigned = answer.encoded()
        var digest: [UInt8] = [0, UInt8(request.mac.count)] + request.mac + unsigned
        try DNSName(parsing: "k.example").write(into: &digest)
        digest += [0, 255, 0, 0, 0, 0]
        try DNSName(parsing: "hmac-sha256").write(into: &digest)
        digest += [0, 0, 0x6B, 0x49, 0xD2, 0x00, 1, 44, 0, 0, 0, 0]
        let mac = Array(HMAC<SHA256>.authenticationCode(for: digest, using: SymmetricKey(data: Data(repeating: 1, count: 32))))
        var data: [UInt8] = []
        try DNSName(parsing: "hmac-sha256").write(into: &data)
        data += [0, 0, 0x6B, 0x49, 0xD2, 0x00, 1, 44, 0, 32] + mac + [0, 77, 0, 0, 0, 0]
        answer.additional = [DNSRecord(name: try DNSName(parsing: "k.example"), type: .tsig, recordClass: .any, ttl: 0, data: data)]
        let bytes = answer.encoded()
        try signer.verify(try DNSMessage(decoding: bytes), bytes: bytes, request: request, now: 1_800_000_100)
        #expect(throws: TSIGSigner.Failure.badTime(signed: 1_800_000_000, now: 1_800_000_301)) {
            try signer.verify(try DNSMessage(decoding: bytes), bytes: bytes, request: request, now: 1_800_000_301)
        }

        var tampered = bytes
        tampered[3] ^= 0x01 // the rcode
        #expect(throws: TSIGSigner.Failure.badMAC) { try signer.verify(try DNSMessage(decoding: tampered), bytes: tampered, request: request, now: 1_800_000_000) }
        let other = TSIGSigner(key: try TSIGKey(name: "k.example", algorithm: "hmac-sha256", base64Secret: Data(repeating: 2, count: 32).base64EncodedString()))
        #expect(throws: TSIGSigner.Failure.badMAC) { try other.verify(try DNSMessage(decoding: bytes), bytes: bytes, request: request, now: 1_800_000_000) }
        #expect(throws: TSIGSigner.Failure.unsigned(.noError)) { try signer.verify(try DNSMessage(decoding: unsigned), bytes: unsigned, request: request, now: 1_800_000_000) }
    }

    @Test(arguments: [
        ("k", "hmac-md5", "AAAA", "is not one of hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512"),
        ("k", "hmac-sha256", "not base64!", "is not base64"),
        ("k", "hmac-sha256", "", "is not base64"),
        ("bad key", "hmac-sha256", "AAAA", "the TSIG key name"),
    ])
    func badKeysAreRefusedWithTheReason(name: String, algorithm: String, secret: String, reason: String) {
        #expect { try TSIGKey(name: name, algorithm: algorithm, base64Secret: secret) } throws: { "\($0)".contains(reason) }
    }
}
