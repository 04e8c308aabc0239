import DepotTestSupport
import Foundation
import Testing

@testable import DepotCore

/// Both stores' migrations arrive at the one schema description, which `store copy` carries:
/// a column one store has and the description lacks would be lost by a copy without a word.
@Suite struct SchemaTests {
    /// Each table the description names, with its columns, against what a store holds.
    static func differences(_ held: [String: [String]]) -> [String] {
        var differences: [String] = []
        let described = Dictionary(uniqueKeysWithValues: Schema.tables.map { ($0.name, $0.columns) })
        for (table, columns) in held.sorted(by: { $0.key < $1.key }) {
            guard let expected = described[table] else {
                differences.append("table \(table) is not in the schema description")
                continue
            }
            for column in columns where !expected.contains(column) {
                differences.append("\(table).\(column) is not in the schema description")
            }
            for column in expected where !columns.contains(column) {
                differences.append("\(table).\(column) is described but missing")
            }
        }
        for table in described.keys.sorted() where held[table] == nil {
            differences.append("table \(table) is described but missing")
        }
        return differences
    }

    @Test func sqliteMigrationsArriveAtTheDescription() throws {
        let folder = try TestSupport.makeTemporaryDirectory("schema")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: folder.appendingPathComponent("depot.sqlite").path, busyTimeout: 5)
        let held = try store.read { db -> [String: [String]] in
            let tables = try db.texts("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .filter { !Schema.bookkeeping.contains($0) }
            var held: [String: [String]] = [:]
            for table in tables {
                held[table] = try db.texts("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table])
            }
            return held
        }
        #expect(Self.differences(held) == [])
    }

    @Test(.offThePool) func postgresMigrationsArriveAtTheDescription() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        try server.createDatabase("schema")
        setenv("PGPASSWORD", PostgresServer.password, 1)
        setenv("PGPASSFILE", "/nonexistent", 1)
        let store = try PostgresStore(url: server.url("schema"), lockTimeout: 5)
        let held = try store.read { db -> [String: [String]] in
            let rows = try db.rows(
                """
                SELECT table_name, column_name FROM information_schema.columns
                WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
                """)
            var held: [String: [String]] = [:]
            for row in rows where !Schema.bookkeeping.contains(row[0] as String) {
                held[row[0], default: []].append(row[1])
            }
            return held
        }
        #expect(Self.differences(held) == [])
    }

    /// The check itself finds what it is there to find.
    @Test func aColumnOutsideTheDescriptionIsFound() {
        var held = Dictionary(uniqueKeysWithValues: Schema.tables.map { ($0.name, $0.columns) })
        held["tokens", default: []].append("expires_at")
        held["history"]?.removeAll { $0 == "note" }
        #expect(
            Self.differences(held) == [
                "history.note is described but missing", "tokens.expires_at is not in the schema description",
            ])
    }
}
