import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An admin API error: a status and a reason, answered as `{"error": …, "status": …}`.
public struct AdminError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let reason: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = (try? JSONSerialization.data(withJSONObject: ["error": reason, "status": Int(status.code)], options: [.sortedKeys]))
            ?? Data()
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
