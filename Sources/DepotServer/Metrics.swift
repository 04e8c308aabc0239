import CoreMetrics
import DepotCore
import Foundation
import Prometheus
import Synchronization

/// `GET /metrics`, in Prometheus' text format: what the server counted (requests by status,
/// with swift-metrics) and the repository's state (with swift-prometheus' gauges), read from
/// the store at each scrape without scanning it (`Repository.gauges`).
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let requests = Mutex<[Int: CoreMetrics.Counter]>([:])
    /// The last reading, whose counts the next reuses where nothing changed, and the gauges it
    /// set, so that those of a distribution or receiver no longer there are dropped.
    private let last = Mutex<(gauges: RepositoryGauges?, set: [String: Prometheus.Gauge])>((nil, [:]))

    /// `registry`: where the series go; `depot serve` makes swift-metrics' own backend write
    /// there too, so that what the library records (publish durations) is scraped with them.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// The series that counts answers of `status`.
    func requestCounter(status: Int) -> CoreMetrics.Counter {
        requests.withLock { counters in
            if let counter = counters[status] { return counter }
            let counter = CoreMetrics.Counter(
                label: "depot_http_requests_total", dimensions: [("status", String(status))], factory: factory)
            counters[status] = counter
            return counter
        }
    }

    /// The text a scrape gets: the repository's gauges brought up to date, then every series.
    func scrape(_ repository: Repository) throws -> [UInt8] {
        let previous = last.withLock { $0.gauges }
        let gauges = try repository.gauges(updating: previous)
        let now = Int64(Date().timeIntervalSince1970)
        var values: [(name: String, labels: [(String, String)], help: String, value: Double)] = []
        for distribution in gauges.distributions {
            let labels = [("distribution", distribution.name)]
            values.append(("depot_packages", labels, "Package files a distribution lists.", Double(distribution.packages)))
            values.append(
                (
                    "depot_unpublished_changes", labels,
                    "Changes recorded but not yet in the served tree (0 when it is up to date).",
                    Double(distribution.recorded - distribution.published)
                ))
            if let signed = distribution.signedAt {
                values.append(
                    (
                        "depot_last_publish_timestamp_seconds", labels,
                        "When the served Release was last signed (a publish or a re-sign), in seconds since the epoch.",
                        Double(signed)
                    ))
            }
            if let valid = distribution.secondsValid(at: now) {
                values.append(
                    (
                        "depot_release_valid_seconds", labels,
                        "Seconds until the served Release's Valid-Until (distributions with Valid-For).", Double(valid)
                    ))
            }
        }
        for promotion in gauges.promotions {
            values.append(
                (
                    "depot_pending_promotions", [("from", promotion.from), ("to", promotion.to)],
                    "Package files new or newer in a distribution than in the one it promotes to.",
                    Double(promotion.pending)
                ))
        }
        for (receiver, count) in gauges.undeliveredWebhooks {
            values.append(
                (
                    "depot_webhook_undelivered", [("receiver", receiver)],
                    "Webhook deliveries not yet made (waiting for their turn or their next attempt).", Double(count)
                ))
        }
        last.withLock { last in
            var set: [String: Prometheus.Gauge] = [:]
            for value in values {
                let key = value.name + "\u{0}" + value.labels.map { "\($0.0)=\($0.1)" }.joined(separator: "\u{0}")
                let gauge = last.set[key] ?? registry.makeGauge(name: value.name, labels: value.labels, help: value.help)
                gauge.set(value.value)
                set[key] = gauge
            }
            for (key, gauge) in last.set where set[key] == nil { registry.unregisterGauge(gauge) }
            last = (gauges, set)
        }
        return registry.emitToBuffer()
    }
}
