import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// `postgresql://USER@HOST:PORT/DATABASE[?sslmode=MODE&sslrootcert=FILE]`, with the
/// password from `PGPASSWORD` or the password file (`PGPASSFILE`, default `~/.pgpass`).
///
/// `sslmode` is libpq's: `disable` (clear text), `prefer` (the default: TLS when the server
/// offers it, unverified), `require` (TLS or no connection, unverified), `verify-ca` (TLS with
/// a certificate signed by `sslrootcert`) and `verify-full` (that, for the host named).
/// `sslrootcert` defaults to libpq's `~/.postgresql/root.crt`.
struct PostgresAddress: CustomStringConvertible {
    var user: String
    var host: String
    var port: Int
    var database: String
    var password: String?
    var sslMode: SSLMode = .prefer
    var rootCertificate: String?

    enum SSLMode: String, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    init(parsing url: String, environment: [String: String]) throws {
        let shown = Self.withoutPassword(url)
        guard let components = URLComponents(string: url), ["postgresql", "postgres"].contains(components.scheme),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else {
            throw DepotError.invalidArgument(
                "'\(shown)' is not a PostgreSQL address such as postgresql://depot@db.example:5432/depot")
        }
        guard components.password == nil else {
            throw DepotError.invalidArgument(
                "\(shown): a password does not belong in the store's address (depot.conf is not a secret); "
                    + "set PGPASSWORD or use the password file")
        }
        let database = String(components.path.drop { $0 == "/" })
        self.user = user
        self.host = host
        self.port = components.port ?? 5432
        self.database = database.isEmpty ? user : database
        var seen = Set<String>()
        for item in components.queryItems ?? [] {
            guard seen.insert(item.name).inserted else {
                throw DepotError.invalidArgument("\(shown): '\(item.name)' is given twice")
            }
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw DepotError.invalidArgument(
                        "\(shown): sslmode must be one of "
                            + SSLMode.allCases.map(\.rawValue).joined(separator: ", ") + ", not '\(item.value ?? "")'")
                }
                sslMode = mode
            case "sslrootcert":
                guard let path = item.value, !path.isEmpty else {
                    throw DepotError.invalidArgument("\(shown): sslrootcert names no file")
                }
                rootCertificate = path
            default:
                throw DepotError.invalidArgument(
                    "\(shown): unknown parameter '\(item.name)' (Depot takes sslmode and sslrootcert)")
            }
        }
        if rootCertificate == nil, sslMode == .verifyCA || sslMode == .verifyFull {
            rootCertificate = (environment["HOME"] ?? NSHomeDirectory()) + "/.postgresql/root.crt"
        }
        password =
            environment["PGPASSWORD"]
            ?? Self.passwordFile(environment).flatMap { Self.password(in: $0, host: host, port: port, database: self.database, user: user) }
    }

    /// The address as messages show it: any password replaced, so that no error repeats it.
    static func withoutPassword(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), let scheme = url.range(of: "://"), scheme.upperBound < at,
            let colon = url[scheme.upperBound..<at].firstIndex(of: ":")
        else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// The TLS of `sslmode`: certificates are checked against `sslrootcert` for `verify-ca`
    /// (any host name) and `verify-full` (the host connected to).
    func tls() throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        switch sslMode {
        case .disable: return .disable
        case .prefer, .require: break
        case .verifyCA, .verifyFull:
            let path = rootCertificate ?? ""
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw DepotError.invalidArgument(
                    "\(description): cannot read the certificate authority of sslrootcert (\(path)): \(error); "
                        + "give the PEM file of the CA that signed the server's certificate")
            }
            tls.certificateVerification = sslMode == .verifyFull ? .fullVerification : .noHostnameVerification
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw DepotError.invalidArgument("\(description): cannot set up TLS: \(error)")
        }
        return sslMode == .prefer ? .prefer(context) : .require(context)
    }

    var description: String { "postgresql://\(user)@\(host):\(port)/\(database)" }

    private static func passwordFile(_ environment: [String: String]) -> String? {
        let path = environment["PGPASSFILE"] ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass"
        return FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The first line of a `.pgpass` file that matches (`*` matches anything; `\` escapes).
    static func password(in text: String, host: String, port: Int, database: String, user: String) -> String? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var fields: [String] = []
            var current = ""
            var escaped = false
            for character in line {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 4 {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}
