import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

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
