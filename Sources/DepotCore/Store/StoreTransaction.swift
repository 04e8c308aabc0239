/// What the operations need of the metadata store: SQL statements run in one transaction (or
/// one read snapshot), with `?` marking each argument. Each operation's SQL is written once,
/// in what SQLite and PostgreSQL both understand; where they differ, `dialect` says how.
///
/// A transaction is used only inside the closure that receives it, never kept.
protocol StoreTransaction: AnyObject {
    /// Runs one statement.
    func execute(_ sql: String, _ arguments: [any StoreValueConvertible]) throws
    /// Runs one query; its rows.
    func rows(_ sql: String, _ arguments: [any StoreValueConvertible]) throws -> [StoreRow]
    var dialect: StoreDialect { get }
}

extension StoreTransaction {
    func execute(_ sql: String) throws { try execute(sql, []) }

    func rows(_ sql: String) throws -> [StoreRow] { try rows(sql, []) }

    /// The first column of every row, as text.
    func texts(_ sql: String, _ arguments: [any StoreValueConvertible] = []) throws -> [String] {
        try rows(sql, arguments).map { $0[0] }
    }

    /// The first column of the first row, if there is one.
    func value<T: StoreValueDecodable>(_ sql: String, _ arguments: [any StoreValueConvertible] = []) throws -> T? {
        guard let row = try rows(sql, arguments).first else { return nil }
        return row[0] as T?
    }

    /// Whether the query finds a row.
    func exists(_ sql: String, _ arguments: [any StoreValueConvertible] = []) throws -> Bool {
        try !rows(sql, arguments).isEmpty
    }
}

/// What differs between the SQL the two stores take, for the few statements that need it.
enum StoreDialect: Sendable {
    case sqlite
    case postgresql

    /// A join that makes the query start from the table on its left: SQLite's `CROSS JOIN`
    /// (its planner otherwise may not); PostgreSQL plans joins by its statistics.
    var joinInThisOrder: String {
        switch self {
        case .sqlite: "CROSS JOIN"
        case .postgresql: "JOIN"
        }
    }

    /// A subquery of the text values in a JSON array bound to one `?`: one argument however
    /// many values.
    var jsonArrayValues: String {
        switch self {
        case .sqlite: "(SELECT value FROM json_each(?))"
        case .postgresql: "(SELECT json_array_elements_text(CAST(? AS json)))"
        }
    }

    /// What lets an `INSERT` give an identity column its value (PostgreSQL's identity columns
    /// are `GENERATED ALWAYS`; SQLite's integer keys take any value).
    var givingIdentityValues: String {
        switch self {
        case .sqlite: ""
        case .postgresql: "OVERRIDING SYSTEM VALUE"
        }
    }

    /// The greatest of these whole-number expressions, at least 0, each NULL taken as 0:
    /// SQLite's `max` with several arguments is NULL when any is, PostgreSQL's `GREATEST`
    /// skips NULLs.
    func greatest(_ expressions: String...) -> String {
        let arguments = expressions.map { "COALESCE(\($0), 0)" }.joined(separator: ", ")
        return switch self {
        case .sqlite: "max(0, \(arguments))"
        case .postgresql: "GREATEST(0, \(arguments))"
        }
    }

    /// The highest value the counter of `table`'s identity column has given, in a query
    /// (SQLite's AUTOINCREMENT keeps it in `sqlite_sequence`, PostgreSQL in a sequence).
    func issuedIdentities(_ table: String, _ column: String) -> String {
        switch self {
        case .sqlite: "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '\(table)'), 0)"
        case .postgresql:
            "SELECT COALESCE((SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM \(table)_\(column)_seq), 0)"
        }
    }

    /// Statements that make the counter of `table`'s identity column go on after the value
    /// bound to each `?` (a value of at least 1).
    func continueIdentities(_ table: String, _ column: String) -> [String] {
        switch self {
        case .sqlite:
            [
                "DELETE FROM sqlite_sequence WHERE name = '\(table)' AND ? IS NOT NULL",
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('\(table)', ?)",
            ]
        case .postgresql: ["SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), ?)"]
        }
    }

    /// A subquery of the whole numbers in a JSON array bound to one `?`.
    var jsonArrayIntegers: String {
        switch self {
        case .sqlite: "(SELECT value FROM json_each(?))"
        case .postgresql: "(SELECT CAST(json_array_elements_text(CAST(? AS json)) AS BIGINT))"
        }
    }

    /// A condition: whether the text of `column` contains any of the strings of a JSON array
    /// bound to one `?`.
    func containsAnyOfJSONArray(_ column: String) -> String {
        switch self {
        case .sqlite: "EXISTS (SELECT 1 FROM json_each(?) WHERE instr(\(column), value) > 0)"
        case .postgresql:
            "EXISTS (SELECT 1 FROM json_array_elements_text(CAST(? AS json)) AS v(value) WHERE strpos(\(column), v.value) > 0)"
        }
    }
}

/// A value the store keeps: text, a whole number, or nothing.
enum StoreValue: Sendable, Hashable {
    case integer(Int64)
    case text(String)
    case null
}

protocol StoreValueConvertible: Sendable {
    var storeValue: StoreValue { get }
}

/// A type a column of a row reads as.
protocol StoreValueDecodable {
    init(storeValue: StoreValue)
}

extension String: StoreValueConvertible, StoreValueDecodable {
    var storeValue: StoreValue { .text(self) }
    init(storeValue: StoreValue) {
        switch storeValue {
        case .text(let text): self = text
        case .integer(let number): self = String(number)
        case .null: self = ""
        }
    }
}

extension Int64: StoreValueConvertible, StoreValueDecodable {
    var storeValue: StoreValue { .integer(self) }
    init(storeValue: StoreValue) {
        switch storeValue {
        case .integer(let number): self = number
        case .text(let text): self = Int64(text) ?? 0
        case .null: self = 0
        }
    }
}

extension Int: StoreValueConvertible, StoreValueDecodable {
    var storeValue: StoreValue { .integer(Int64(self)) }
    init(storeValue: StoreValue) { self = Int(Int64(storeValue: storeValue)) }
}

extension Bool: StoreValueConvertible, StoreValueDecodable {
    var storeValue: StoreValue { .integer(self ? 1 : 0) }
    init(storeValue: StoreValue) { self = Int64(storeValue: storeValue) != 0 }
}

extension Optional: StoreValueConvertible where Wrapped: StoreValueConvertible {
    var storeValue: StoreValue { self?.storeValue ?? .null }
}

extension Optional: StoreValueDecodable where Wrapped: StoreValueDecodable {
    init(storeValue: StoreValue) {
        self = storeValue == .null ? nil : Wrapped(storeValue: storeValue)
    }
}

extension StoreValue: StoreValueConvertible {
    var storeValue: StoreValue { self }
}

/// One row a query returned, its columns in the order the query named them.
struct StoreRow: Sendable {
    var values: [StoreValue]
    /// The name of each column, as the query gave it (shared by the rows of one query).
    var columns: [String]

    subscript<T: StoreValueDecodable>(_ column: Int) -> T { T(storeValue: values[column]) }

    /// The column of this name (the last part of `f.name`, or its `AS` name): rows are read
    /// by name next to the column list that names them, never by position.
    subscript<T: StoreValueDecodable>(_ name: String) -> T {
        guard let index = columns.firstIndex(of: name) else {
            preconditionFailure("the query names no column \(name) (it has \(columns.joined(separator: ", ")))")
        }
        return T(storeValue: values[index])
    }
}
