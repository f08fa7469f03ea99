import NIOCore

/// Collects a backend's answer on the event loop for the comparator: the raw
/// head and up to `cap` body bytes (a copy, so the receive buffers are not held).
struct AnswerCapture {
    let cap: Int
    private(set) var head = ByteBuffer()
    private(set) var status = 0
    private(set) var body = ByteBuffer()
    private(set) var truncated = false
    /// Whether the body holds chunk framing.
    var chunked = false
    private(set) var hasHead = false

    init(cap: Int) {
        self.cap = cap
    }

    mutating func head(_ response: ResponseHead) {
        head = ByteBuffer(buffer: response.raw)
        status = response.status
        hasHead = true
    }

    mutating func body(_ bytes: ByteBuffer) {
        guard !truncated else { return }
        let room = cap - body.readableBytes
        if bytes.readableBytes > room {
            truncated = true
            if room > 0, let part = bytes.getSlice(at: bytes.readerIndex, length: room) {
                var part = part
                body.writeBuffer(&part)
            }
            return
        }
        var bytes = bytes
        body.writeBuffer(&bytes)
    }

    /// The captured answer.
    var answer: CapturedAnswer {
        CapturedAnswer(head: head, status: status, body: body, chunked: chunked, truncated: truncated)
    }
}

extension ByteBuffer {
    /// A copy of a buffer's readable bytes in storage of its own.
    init(buffer: ByteBuffer) {
        var copy = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
        var source = buffer
        copy.writeBuffer(&source)
        self = copy
    }
}
