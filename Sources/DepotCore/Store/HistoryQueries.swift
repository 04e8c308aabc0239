import DebianFormat
import Foundation

/// `history`: every change, who made it and why.
extension MetadataStore {
    /// Records a change, and its deliveries to the webhooks that asked for it (the outbox):
    /// a change is never recorded without them, nor they without it.
    static func recordHistory(
        _ db: any StoreTransaction, operation: String, distribution: String, from source: String? = nil,
        context: OperationContext, changes: [Change], overriddenGates: [String] = [], notifying webhooks: [Webhook]
    ) throws -> Int64 {
        let changesJSON = try json(changes)
        let overridden = overriddenGates.isEmpty ? nil : overriddenGates.joined(separator: ", ")
        let id: Int64 =
            try db.value(
                """
                INSERT INTO history (date, operation, distribution, "user", command, note, changes, overridden_gates)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """,
                [
                    context.timestamp, operation, distribution, context.user, context.command, context.note,
                    changesJSON, overridden,
                ])
            ?? 0
        try db.execute("UPDATE listing_journal SET history_id = ? WHERE history_id IS NULL", [id])
        if !webhooks.isEmpty, let event = Webhook.Event(operation: operation) {
            let notice = WebhookEvent(
                id: id, event: event, distribution: distribution, from: source, user: context.user, note: context.note,
                date: context.timestamp, changes: changes.map(WebhookEvent.Change.init))
            try recordDeliveries(db, of: notice, to: webhooks)
        }
        return id
    }

    static func history(_ db: any StoreTransaction, distribution: String?, limit: Int?) throws -> [HistoryEntry] {
        var sql =
            "SELECT id, date, operation, distribution, \"user\", command, note, changes, overridden_gates FROM history"
        var arguments: [any StoreValueConvertible] = []
        if let distribution {
            sql += " WHERE distribution = ?"
            arguments.append(distribution)
        }
        sql += " ORDER BY id DESC"
        if let limit { sql += " LIMIT \(limit)" }
        return try db.rows(sql, arguments).map { row in
            let changes = (try? JSONDecoder().decode([Change].self, from: Data((row["changes"] as String).utf8))) ?? []
            return HistoryEntry(
                id: row["id"], date: row["date"], operation: row["operation"], distribution: row["distribution"],
                user: row["user"], command: row["command"], note: row["note"], changes: changes,
                overriddenGates: (row["overridden_gates"] as String?).map { $0.components(separatedBy: ", ") })
        }
    }

    static func historyEntryExists(_ db: any StoreTransaction, _ id: Int64) throws -> Bool {
        try db.exists("SELECT 1 FROM history WHERE id = ?", [id])
    }

    /// The entries of `distribution` after `id`, newest first, each with whether a rollback
    /// can undo it: it has journal rows, or changed no listing (a stopped ramp). An entry
    /// recorded before Depot kept journals has neither.
    static func entries(_ db: any StoreTransaction, of distribution: String, after id: Int64) throws
        -> [(id: Int64, undoable: Bool)]
    {
        try db.rows(
            """
            SELECT h.id, (h.changes = '[]' OR EXISTS (SELECT 1 FROM listing_journal j WHERE j.history_id = h.id))
                AS undoable
            FROM history h WHERE h.distribution = ? AND h.id > ? ORDER BY h.id DESC
            """,
            [distribution, id]
        ).map { ($0["id"], $0["undoable"]) }
    }
}
