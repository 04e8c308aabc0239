/// `store copy`'s side of the store: whole tables, as the schema description names them.
extension MetadataStore {
    /// Whether any table of the description holds a row.
    static func holdsAnyRow(_ db: any StoreTransaction) throws -> Bool {
        try Schema.tables.contains { table in try db.exists("SELECT 1 FROM \(table.name)") }
    }

    /// Empties the journal: a copy writes listings, which the triggers journal, and then the
    /// source's own journal, exactly.
    static func emptyJournal(_ db: any StoreTransaction) throws {
        try db.execute("DELETE FROM listing_journal")
    }

    /// Copies every row of `table`, `page` rows at a time, and carries its identity counter.
    static func copy(
        _ table: Schema.Table, from source: any StoreTransaction, to destination: any StoreTransaction, page: Int
    ) throws -> Int {
        let columns = table.columnList
        let placeholders = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
        let insert =
            "INSERT INTO \(table.name) (\(columns)) \(table.identity == nil ? "" : destination.dialect.givingIdentityValues) VALUES (\(placeholders))"
        var copied = 0
        while true {
            let rows = try source.rows(
                "SELECT \(columns) FROM \(table.name) ORDER BY \(table.orderList) LIMIT ? OFFSET ?", [page, copied])
            for row in rows { try destination.execute(insert, row.values) }
            copied += rows.count
            if rows.count < page { break }
        }
        // The copy's counter goes on where the source's did, not after the highest id still
        // present: an id gc freed is never given again.
        if let identity = table.identity {
            let issued: Int64 = try source.value(source.dialect.issuedIdentities(table.name, identity)) ?? 0
            let present: Int64 = try destination.value("SELECT COALESCE(MAX(\(identity)), 0) FROM \(table.name)") ?? 0
            let counter = max(issued, present)
            if counter > 0 {
                for statement in destination.dialect.continueIdentities(table.name, identity) {
                    try destination.execute(statement, [counter])
                }
            }
        }
        return copied
    }
}
