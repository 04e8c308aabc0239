import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The shared store: a PostgreSQL database, for several Depot nodes (depot.conf(5):
/// `Store: postgresql://USER@HOST:PORT/DATABASE`). The password comes from `PGPASSWORD` or
/// the password file, never from depot.conf.
///
/// Each transaction leases a connection of its own from a small pool, so readers on other
/// threads never run inside a writer's transaction. The operations are synchronous: each
/// statement is awaited from the operation's thread (never Swift concurrency's pool).
///
/// Nodes sharing the database are kept apart by PostgreSQL's advisory locks, which it lets go
/// itself when a node's connection ends: every write transaction first takes the
/// repository's transaction lock (held for the milliseconds a transaction lasts, never over
/// uploads), and a distribution's publish holds that distribution's lock.
final class PostgresStore: Store {
    let location: String
    private let configuration: PostgresConnection.Configuration
    /// Seconds a statement waits for a lock another node holds.
    private let lockTimeout: Double
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)
    static let logger = Logger(label: "depot.store") { _ in SwiftLogNoOpLogHandler() }

    /// Connects to the database of `url` and brings its schema up to date; a database that
    /// holds another application's tables, or a schema newer than this Depot knows, is refused.
    init(
        url: String, lockTimeout: Double = Repository.defaultLockTimeout,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        self.lockTimeout = lockTimeout
        let address = try PostgresAddress(parsing: url, environment: environment)
        location = address.description
        var configuration = PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password,
            database: address.database, tls: try address.tls())
        configuration.options.connectTimeout = .seconds(10)
        self.configuration = configuration
        try write(commit: true) { db in try PostgresSchema.migrate(db, location: self.location) }
    }

    deinit {
        for connection in idle.withLock({ $0 }) { try? waitFor { try await connection.close() } }
    }

    func read<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", commit: false, body)
    }

    func write<T>(commit: Bool, _ body: (any StoreTransaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN", commit: commit) { db in
            // Statements after this one see every change committed before it (read committed),
            // so each transaction decides on the repository as the one before it left it.
            try db.execute("SELECT pg_advisory_xact_lock(?::integer, 0)", [Self.lockSpace])
            return try body(db)
        }
    }

    var isShared: Bool { true }

    func publishing(_ distribution: String, waiting: Bool, _ body: () throws -> Void) throws -> Bool {
        let connection = try lease()
        let claim = PostgresTransaction(connection: connection, location: location)
        do {
            if waiting {
                try claim.execute("SELECT pg_advisory_lock(?::integer, hashtext(?))", [Self.lockSpace + 1, distribution])
            } else if try claim.value(
                "SELECT pg_try_advisory_lock(?::integer, hashtext(?))", [Self.lockSpace + 1, distribution]) != true
            {
                idle.withLock { $0.append(connection) }
                return false
            }
        } catch {
            _ = try? waitFor { try await connection.close() }
            throw Self.lockError(error, distribution: distribution, waited: lockTimeout)
        }
        defer {
            if (try? claim.execute("SELECT pg_advisory_unlock(?::integer, hashtext(?))", [Self.lockSpace + 1, distribution]))
                != nil
            {
                idle.withLock { $0.append(connection) }
            } else {
                _ = try? waitFor { try await connection.close() }
            }
        }
        try body()
        return true
    }

    /// The first key of Depot's advisory locks: the repository's transaction lock; the next
    /// one, with the distribution's hash as second key, its publish lock.
    private static let lockSpace: Int64 = 1_684_366_452

    /// A lock wait that ran out says who is waited for, the way the repository lock does.
    private static func lockError(_ error: any Error, distribution: String?, waited: Double) -> any Error {
        guard case .lockTimeout(_, nil) = error as? DepotError else { return error }
        let what = distribution.map { "the publish of \($0)" } ?? "the repository"
        return DepotError.lockTimeout(holder: "another Depot node (\(what))", waited: waited)
    }

    private func transaction<T>(begin: String, commit: Bool, _ body: (any StoreTransaction) throws -> T) throws -> T {
        let connection = try lease()
        let transaction = PostgresTransaction(connection: connection, location: location)
        do {
            try transaction.execute(begin)
            let result = try body(transaction)
            try transaction.execute(commit ? "COMMIT" : "ROLLBACK")
            idle.withLock { $0.append(connection) }
            return result
        } catch {
            // A connection whose transaction failed is closed, not reused: it may be mid-way.
            _ = try? waitFor { try await connection.close() }
            throw Self.lockError(error, distribution: nil, waited: lockTimeout)
        }
    }

    private func lease() throws -> PostgresConnection {
        if let connection = idle.withLock({ $0.popLast() }), !connection.isClosed { return connection }
        let configuration = configuration
        let id = nextID.add(1, ordering: .relaxed).newValue
        let connection: PostgresConnection
        do {
            connection = try waitFor {
                try await PostgresConnection.connect(configuration: configuration, id: id, logger: Self.logger)
            }
        } catch {
            throw PostgresTransaction.depotError(error, location: location)
        }
        // A node stopped while it holds a lock (not dead: its connection lives) makes others
        // give up after the time a change waits for the repository, not wait forever.
        do {
            try PostgresTransaction(connection: connection, location: location).execute(
                "SELECT set_config('lock_timeout', ?, false)", ["\(Int(lockTimeout * 1000))"])
        } catch {
            _ = try? waitFor { try await connection.close() }
            throw error
        }
        return connection
    }
}

/// A transaction on one leased connection.
final class PostgresTransaction: StoreTransaction {
    private let connection: PostgresConnection
    private let location: String

    init(connection: PostgresConnection, location: String) {
        self.connection = connection
        self.location = location
    }

    var dialect: StoreDialect { .postgresql }

    func execute(_ sql: String, _ arguments: [any StoreValueConvertible]) throws {
        _ = try rows(sql, arguments)
    }

    func rows(_ sql: String, _ arguments: [any StoreValueConvertible]) throws -> [StoreRow] {
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.storeValue {
            case .integer(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .null: bindings.appendNull()
            }
        }
        let query = PostgresQuery(unsafeSQL: Self.numberedPlaceholders(sql), binds: bindings)
        let connection = connection
        do {
            // A connection the server closed under a statement does not always fail the
            // statement (seen when the server ends the session as the statement is sent): the
            // wait ends when the connection does.
            return try waitFor(
                { () async throws -> [StoreRow] in
                    var rows: [StoreRow] = []
                    var columns: [String]?
                    for try await row in try await connection.query(query, logger: PostgresStore.logger) {
                        if columns == nil { columns = row.map(\.columnName) }
                        rows.append(StoreRow(values: row.map(Self.value), columns: columns ?? []))
                    }
                    return rows
                },
                givingUp: { connection.isClosed ? DepotError.storage("\(self.location): the connection to the server was lost") : nil })
        } catch {
            throw Self.depotError(error, location: location)
        }
    }

    /// `?` becomes `$1`, `$2`, ... outside quoted text: the operations' SQL is written once,
    /// with SQLite's placeholders.
    static func numberedPlaceholders(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quote: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                result.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                result.append(character)
            } else if character == "?" {
                number += 1
                result += "$\(number)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func value(_ cell: PostgresCell) -> StoreValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map(StoreValue.integer) ?? .null
        case .bool: return .integer((try? cell.decode(Bool.self)) == true ? 1 : 0)
        default: return (try? cell.decode(String.self)).map(StoreValue.text) ?? .null
        }
    }

    /// One line for the user: what the server said, or why it could not be reached.
    static func depotError(_ error: any Error, location: String) -> DepotError {
        if let error = error as? DepotError { return error }
        guard let error = error as? PSQLError else { return .storage("\(location): \(error)") }
        if let message = error.serverInfo?[.message] {
            let code = error.serverInfo?[.sqlState] ?? ""
            if code == "55P03" { return .lockTimeout(holder: "another Depot node", waited: nil) }
            let advice =
                code == "28P01" || code == "28000"
                ? " (check the user in Store: and the password in PGPASSWORD or the password file)"
                : code == "3D000" ? " (create the database, or correct Store: in depot.conf)" : ""
            return .storage("\(location): \(message)\(advice)")
        }
        let cause = error.underlying.map { "\($0)" } ?? "\(error.code)"
        return .storage(
            "\(location): cannot reach the PostgreSQL server (\(cause)); check Store: in depot.conf and that the server runs")
    }
}

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
