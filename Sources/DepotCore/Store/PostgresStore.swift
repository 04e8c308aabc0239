import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The shared store: a PostgreSQL database, for several Depot nodes (depot.conf(5):
/// `Store: postgresql://USER@HOST:PORT/DATABASE`). The password comes from `PGPASSWORD` or
/// the password file, never from depot.conf.
///
/// Each transaction leases a connection of its own from a small pool, so readers on other
/// threads never run inside a writer's transaction. The operations are synchronous: each
/// statement is awaited from the operation's thread (never Swift concurrency's pool).
final class PostgresStore: Store {
    let location: String
    private let configuration: PostgresConnection.Configuration
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)
    static let logger = Logger(label: "depot.store") { _ in SwiftLogNoOpLogHandler() }

    /// Connects to the database of `url` and brings its schema up to date; a database that
    /// holds another application's tables, or a schema newer than this Depot knows, is refused.
    init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let address = try PostgresAddress(parsing: url, environment: environment)
        location = address.description
        var configuration = PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password,
            database: address.database, tls: .disable)
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
        try transaction(begin: "BEGIN", commit: commit, body)
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
            if let error = error as? DepotError { throw error }
            throw PostgresTransaction.depotError(error, location: location)
        }
    }

    private func lease() throws -> PostgresConnection {
        if let connection = idle.withLock({ $0.popLast() }), !connection.isClosed { return connection }
        let configuration = configuration
        let id = nextID.add(1, ordering: .relaxed).newValue
        do {
            return try waitFor {
                try await PostgresConnection.connect(configuration: configuration, id: id, logger: Self.logger)
            }
        } catch {
            throw PostgresTransaction.depotError(error, location: location)
        }
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
        let rows = try waitFor { () async throws -> [StoreRow] in
            var rows: [StoreRow] = []
            for try await row in try await connection.query(query, logger: PostgresStore.logger) {
                rows.append(StoreRow(values: row.map(Self.value)))
            }
            return rows
        }
        return rows
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
        guard let error = error as? PSQLError else { return .storage("\(location): \(error)") }
        if let message = error.serverInfo?[.message] {
            let code = error.serverInfo?[.sqlState] ?? ""
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

/// `postgresql://USER@HOST:PORT/DATABASE`, with the password from `PGPASSWORD` or the
/// password file (`PGPASSFILE`, default `~/.pgpass`).
struct PostgresAddress: CustomStringConvertible {
    var user: String
    var host: String
    var port: Int
    var database: String
    var password: String?

    init(parsing url: String, environment: [String: String]) throws {
        guard let components = URLComponents(string: url), ["postgresql", "postgres"].contains(components.scheme),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else {
            throw DepotError.invalidArgument(
                "'\(url)' is not a PostgreSQL address such as postgresql://depot@db.example:5432/depot")
        }
        guard components.password == nil else {
            throw DepotError.invalidArgument(
                "\(url): a password does not belong in Store: (depot.conf is not a secret); set PGPASSWORD or use the password file")
        }
        let database = String(components.path.drop { $0 == "/" })
        self.user = user
        self.host = host
        self.port = components.port ?? 5432
        self.database = database.isEmpty ? user : database
        password =
            environment["PGPASSWORD"]
            ?? Self.passwordFile(environment).flatMap { Self.password(in: $0, host: host, port: port, database: self.database, user: user) }
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
