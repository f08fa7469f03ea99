import CutoverCore
import Foundation
import NIOSSL
import PostgresNIO

/// A `postgres://user:pass@host:port/db?sslmode=disable|prefer|require|verify-full` URL, read.
public struct PostgresURL: Sendable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var sslMode: String

    public init(_ url: String) throws {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw StoreError.invalidLocation("'\(StoreLocation.postgres(url: url).redacted)' is not a postgres URL")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.user ?? "postgres"
        self.password = components.password
        let database = String(components.path.dropFirst())
        self.database = database.isEmpty ? nil : database
        self.sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "prefer", "require", "verify-full"].contains(sslMode) else {
            throw StoreError.invalidLocation("sslmode '\(sslMode)' is not one of disable, prefer, require, verify-full")
        }
    }

    /// TLS as the URL's `sslmode` asks: none, or a client configuration and whether it is required.
    private var tlsSettings: (configuration: TLSConfiguration, required: Bool)? {
        switch sslMode {
        case "prefer", "require":
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return (configuration, sslMode == "require")
        case "verify-full":
            return (.makeClientConfiguration(), true)
        default:
            return nil
        }
    }

    /// TLS for a single connection.
    var tls: PostgresConnection.Configuration.TLS {
        guard let settings = tlsSettings, let context = try? NIOSSLContext(configuration: settings.configuration) else { return .disable }
        return settings.required ? .require(context) : .prefer(context)
    }

    /// The configuration of a single connection.
    public var connectionConfiguration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username, password: password,
                                                             database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The configuration of a pooled client.
    var clientConfiguration: PostgresClient.Configuration {
        var clientTLS = PostgresClient.Configuration.TLS.disable
        if let settings = tlsSettings {
            clientTLS = settings.required ? .require(settings.configuration) : .prefer(settings.configuration)
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password,
                                                         database: database, tls: clientTLS)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 4
        return configuration
    }
}
