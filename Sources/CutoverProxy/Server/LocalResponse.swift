import CutoverCore
import NIOCore

/// A response Cutover writes itself, when a request is refused or its backend
/// failed: a short JSON body naming the reason, the route and the backend.
struct LocalResponse {
    var status: Int
    var reason: String
    var route: String?
    var backend: String?
    var requestID: String?

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 400: return "Bad Request"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 417: return "Expectation Failed"
        case 421: return "Misdirected Request"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }

    /// The whole answer to a connection beyond `limits.max_client_connections`, written before any request is read.
    static let tooManyConnections: StaticString = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 79\r\nConnection: close\r\n\r\n{\"error\":\"the gateway has as many client connections as it takes\",\"status\":503}"

    /// Seconds a client is asked to wait (`Retry-After`) when load is shed.
    static let retryAfterSeconds = "1"

    /// The JSON body.
    var body: String {
        var fields = ["\"error\":\(Self.quote(reason))", "\"status\":\(status)"]
        if let route { fields.append("\"route\":\(Self.quote(route))") }
        if let backend { fields.append("\"backend\":\(Self.quote(backend))") }
        if let requestID { fields.append("\"request_id\":\(Self.quote(requestID))") }
        return "{" + fields.joined(separator: ",") + "}\n"
    }

    /// Writes the whole response. `bodyless` for HEAD requests; `close` adds `Connection: close`.
    func write(into buffer: inout ByteBuffer, bodyless: Bool, close: Bool, clientMinor: Int) {
        Self.write(status: status, headers: [("Content-Type", "application/json")], body: body, requestID: requestID,
                   bodyless: bodyless, close: close, clientMinor: clientMinor, into: &buffer)
    }

    /// Writes a whole answer of the gateway's own: status line, `headers`, the length, the request ID,
    /// the connection's fate, and `body` (left out for HEAD).
    static func write(status: Int, headers: [(String, String)], body: String, requestID: String?, bodyless: Bool, close: Bool,
                      clientMinor: Int, into buffer: inout ByteBuffer) {
        buffer.writeString("HTTP/1.1 \(status) \(reasonPhrase(status))\r\n")
        for (name, value) in headers { buffer.writeString("\(name): \(value)\r\n") }
        buffer.writeString("Content-Length: \(body.utf8.count)\r\n")
        if let requestID { buffer.writeString("X-Request-Id: \(requestID)\r\n") }
        if close {
            buffer.writeStaticString("Connection: close\r\n")
        } else if clientMinor == 0 {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
        if !bodyless { buffer.writeString(body) }
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        ListMerge.quoted(text)
    }
}
