import Foundation

/// `webhook_deliveries`: the outbox. A change writes its deliveries in its own transaction;
/// the nodes that deliver them take each in turn under a lease the store grants one node at a
/// time.
extension MetadataStore {
    /// Records `event` for each receiver that asked for it.
    static func recordDeliveries(_ db: any StoreTransaction, of event: WebhookEvent, to webhooks: [Webhook]) throws {
        let now = Self.milliseconds(Date())
        for webhook in webhooks where webhook.events.contains(event.event) {
            try db.execute(
                """
                INSERT INTO webhook_deliveries
                    (receiver, delivery, event, history_id, body, recorded_at, state, attempts, next_at)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?)
                """,
                [
                    webhook.url, UUID().uuidString.lowercased(), event.event.rawValue, event.id,
                    event.body(webhook.format), now, now,
                ])
        }
    }

    /// A delivery handed to one node to attempt.
    struct ClaimedDelivery: Sendable {
        var id: Int64
        var delivery: String
        var event: String
        var body: String
        var attempts: Int
        var recordedAt: Int64
    }

    /// The oldest undelivered delivery to `receiver`, when its attempt is due and no other
    /// node holds it: a read, so that looking for work takes no write lock. Later deliveries
    /// wait behind it: each receiver gets its events in the order they happened.
    static func dueDelivery(_ db: any StoreTransaction, receiver: String, node: String, now: Int64) throws -> Int64? {
        guard
            let head = try db.rows(
                """
                SELECT id, next_at, claimed_by, claimed_until
                FROM webhook_deliveries WHERE state = 'pending' AND receiver = ? ORDER BY id LIMIT 1
                """, [receiver]
            ).first
        else { return nil }
        let holder = head["claimed_by"] as String?
        let held = holder != nil && holder != node && (head["claimed_until"] as Int64? ?? 0) > now
        let due: Int64 = head["next_at"]
        return due <= now && !held ? head["id"] : nil
    }

    /// Claims delivery `id` for `node` until `until`, unless another node took it meanwhile
    /// (the condition makes that one statement: of two nodes only one gets it).
    static func claimDelivery(_ db: any StoreTransaction, id: Int64, node: String, now: Int64, until: Int64) throws
        -> ClaimedDelivery?
    {
        try db.rows(
            """
            UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ?
            WHERE id = ? AND state = 'pending' AND next_at <= ?
                AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until <= ?)
            RETURNING id, delivery, event, body, attempts, recorded_at
            """, [node, until, id, now, node, now]
        ).first.map {
            ClaimedDelivery(
                id: $0["id"], delivery: $0["delivery"], event: $0["event"], body: $0["body"], attempts: $0["attempts"],
                recordedAt: $0["recorded_at"])
        }
    }

    /// Records an attempt `node` made; false when the node no longer held the delivery (its
    /// lease ran out and another node took it over), so that it stops delivering to that
    /// receiver.
    static func recordAttempt(
        _ db: any StoreTransaction, _ delivery: ClaimedDelivery, node: String, now: Int64, error: String?
    ) throws -> Bool {
        let attempts = delivery.attempts + 1
        let state: WebhookDelivery.State
        let nextAt: Int64
        if error == nil {
            state = .delivered
            nextAt = now
        } else if now - delivery.recordedAt >= WebhookDelivery.retryWindow * 1000 {
            state = .failed
            nextAt = now
        } else {
            state = .pending
            nextAt = now + WebhookDelivery.backoff(afterAttempts: attempts) * 1000
        }
        return try db.exists(
            """
            UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?, finished_at = ?, last_error = ?,
                claimed_by = NULL, claimed_until = NULL
            WHERE id = ? AND claimed_by = ? RETURNING id
            """,
            [
                state.rawValue, attempts, nextAt, state == .pending ? nil : now, error ?? nil as String?,
                delivery.id, node,
            ])
    }

    /// The latest deliveries, newest first.
    static func deliveries(_ db: any StoreTransaction, limit: Int) throws -> [WebhookDelivery] {
        try db.rows(
            """
            SELECT id, receiver, delivery, event, history_id, state, attempts, recorded_at, next_at, finished_at,
                last_error
            FROM webhook_deliveries ORDER BY id DESC LIMIT ?
            """, [limit]
        ).map { row in
            let state = WebhookDelivery.State(rawValue: row["state"]) ?? .pending
            return WebhookDelivery(
                id: row["id"], receiver: row["receiver"], delivery: row["delivery"], event: row["event"],
                historyID: row["history_id"], state: state, attempts: row["attempts"],
                recorded: Self.isoDate(milliseconds: row["recorded_at"]),
                nextAttempt: state == .pending ? Self.isoDate(milliseconds: row["next_at"]) : nil,
                finished: (row["finished_at"] as Int64?).map(Self.isoDate(milliseconds:)),
                lastError: row["last_error"])
        }
    }

    /// How many deliveries each receiver has not had yet (an index lookup, not a scan).
    static func undeliveredCounts(_ db: any StoreTransaction) throws -> [String: Int] {
        Dictionary(
            try db.rows(
                "SELECT receiver, COUNT(*) AS undelivered FROM webhook_deliveries WHERE state = 'pending' GROUP BY receiver"
            ).map { ($0["receiver"] as String, $0["undelivered"] as Int) },
            uniquingKeysWith: { first, _ in first })
    }

    /// Forgets deliveries delivered or given up on before `before` (milliseconds).
    static func forgetFinishedDeliveries(_ db: any StoreTransaction, before: Int64) throws {
        try db.execute("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < ?", [before])
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    static func isoDate(milliseconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
