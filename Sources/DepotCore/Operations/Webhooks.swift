extension Repository {
    /// The latest deliveries of the webhook outbox, newest first (`depot webhooks`).
    public func webhookDeliveries(limit: Int = 50) throws -> [WebhookDelivery] {
        try read { db in try MetadataStore.deliveries(db, limit: limit) }
    }
}
