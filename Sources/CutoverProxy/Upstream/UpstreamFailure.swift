/// Why an exchange with a backend failed; each kind maps to a client status and a metric label.
enum UpstreamFailure: Error, Hashable, CustomStringConvertible {
    /// The TCP connection could not be made.
    case connectFailed(String)
    /// Connecting (TCP and TLS) took longer than the backend's connect timeout.
    case connectTimeout
    /// Every pooled connection stayed busy for the whole connect timeout.
    case poolExhausted
    /// Every pooled connection was busy and `max_queue` requests were already waiting for one.
    case queueFull
    /// The TLS handshake failed (certificate, protocol).
    case tls(String)
    /// The backend closed or reset the connection before the response was complete.
    case reset
    /// The backend sent nothing for longer than its response timeout.
    case responseTimeout
    /// The backend's response was not valid HTTP/1.x.
    case protocolError(String)

    /// The label of `cutover_upstream_errors_total{kind}`.
    var metricKind: String {
        switch self {
        case .connectFailed: return "connect_error"
        case .connectTimeout: return "connect_timeout"
        case .poolExhausted: return "pool_exhausted"
        case .queueFull: return "queue_full"
        case .tls: return "tls"
        case .reset: return "reset"
        case .responseTimeout: return "response_timeout"
        case .protocolError: return "protocol"
        }
    }

    /// The status the client gets when no response has been sent yet.
    var clientStatus: Int {
        switch self {
        case .responseTimeout: return 504
        case .poolExhausted, .queueFull: return 503
        default: return 502
        }
    }

    var description: String {
        switch self {
        case .connectFailed(let reason): return "upstream connect failed: \(reason)"
        case .connectTimeout: return "upstream connect timeout"
        case .poolExhausted: return "no upstream connection free within the connect timeout"
        case .queueFull: return "every upstream connection is busy and the backend's max_queue of waiting requests is full"
        case .tls(let reason): return "upstream TLS failed: \(reason)"
        case .reset: return "upstream closed the connection before the response was complete"
        case .responseTimeout: return "upstream response timeout"
        case .protocolError(let reason): return "invalid upstream response: \(reason)"
        }
    }
}

extension ProxyMetrics.BackendMetrics {
    /// Counts `failure` in `cutover_upstream_errors_total{backend, kind}`.
    func upstreamError(_ failure: UpstreamFailure) {
        upstreamError(kind: failure.metricKind)
    }
}
