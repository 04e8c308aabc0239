import AptRepository
import DebianFormat
import GRDB

/// A transaction of the SQLite store, through GRDB. Statements are prepared once per
/// connection and cached: compiling one that touches `listings` also compiles the journal's
/// triggers, which costs more than running it.
final class SQLiteTransaction: StoreTransaction {
    private let db: Database

    init(_ db: Database) { self.db = db }

    var dialect: StoreDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [any StoreValueConvertible]) throws {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
    }

    func rows(_ sql: String, _ arguments: [any StoreValueConvertible]) throws -> [StoreRow] {
        let statement = try db.cachedStatement(sql: sql)
        statement.arguments = Self.arguments(arguments)
        var rows: [StoreRow] = []
        let columns = statement.columnNames
        let cursor = try Row.fetchCursor(statement)
        while let row = try cursor.next() {
            rows.append(StoreRow(values: row.databaseValues.map(Self.value), columns: columns))
        }
        return rows
    }

    private static func arguments(_ values: [any StoreValueConvertible]) -> StatementArguments {
        StatementArguments(
            values.map { value -> DatabaseValue in
                switch value.storeValue {
                case .integer(let number): number.databaseValue
                case .text(let text): text.databaseValue
                case .null: .null
                }
            })
    }

    private static func value(_ value: DatabaseValue) -> StoreValue {
        switch value.storage {
        case .int64(let number): .integer(number)
        case .string(let text): .text(text)
        case .double(let number): .integer(Int64(number))
        case .blob(let data): .text(String(decoding: data, as: UTF8.self))
        case .null: .null
        }
    }
}

extension DepotError {
    /// An error of the metadata store at `path`. SQLite says "database or disk is full" when
    /// the file system is, but only "disk I/O error" when its shared-memory file cannot grow.
    static func store(_ error: any Error, path: String) -> DepotError {
        let code = (error as? DatabaseError)?.resultCode
        if code == .SQLITE_BUSY {
            return .lockTimeout(holder: Repository.lockHolder(ofStoreAt: path), waited: nil)
        }
        let full =
            code == .SQLITE_FULL
            || (code == .SQLITE_IOERR
                && (DurableFiles.availableBytes(onFileSystemOf: path) ?? Int.max) < Self.nearlyFull)
        let damaged = code == .SQLITE_CORRUPT || code == .SQLITE_NOTADB
        let advice =
            full
            ? " (\(FileError.fileSystemFullAdvice))"
            : damaged ? " (the metadata store is damaged: restore it from a backup)" : ""
        return .storage("\(path): \(error)" + advice)
    }

    /// Less free space than this makes an I/O error of the store a full file system's.
    private static let nearlyFull = 1 << 20
}
