import DepotCore
import DepotTestSupport
import Foundation
import Testing

/// `GET /metrics` of `depot serve`, read by Prometheus' own client library's parser
/// (`prometheus-client` from PyPI), its values held to the repository's state.
@Suite(.enabled(if: TestSupport.pythonHas("prometheus_client"), "needs prometheus-client (Scripts/python-packages)"))
struct MetricsTests {
    struct Sample: Decodable, Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The samples of a scrape, as `prometheus_client.parser` reads them: a line it cannot
    /// parse fails here.
    static func parse(_ text: String) throws -> [Sample] {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            samples = [{"name": s.name, "labels": s.labels, "value": s.value}
                       for family in text_string_to_metric_families(sys.stdin.read()) for s in family.samples]
            print(json.dumps(samples))
            """
        let result = try TestSupport.run("python3", ["-c", script], input: Data(text.utf8))
        guard result.status == 0 else { throw TestSupportError("the scrape does not parse: \(result.standardError)") }
        return try JSONDecoder().decode([Sample].self, from: result.standardOutput)
    }

    @Test func aScrapeTellsTheRepositorysStateAndTheServersRequests() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let silent = try WebhookReceiver(mode: "silent")
        let configuration = repository.root.appendingPathComponent("depot.conf")
        let text = try String(contentsOf: configuration, encoding: .utf8)
            .replacingOccurrences(of: "Distribution: production\n", with: "Distribution: production\nValid-For: 7d\n")
        try text.write(to: configuration, atomically: true, encoding: .utf8)
        try repository.addToConfiguration("Webhook: \(silent.url)\n")
        let packages = PackageBuilder()
        for name in ["owl", "lark", "kite"] {
            try #require(try repository.depot(["push", "development", try packages.make(name, "1.0-1")]).status == 0)
        }
        try #require(try repository.depot(["promote", "owl", "--from", "development"]).status == 0)
        try #require(try repository.depot(["publish", "production"]).status == 0)
        let token = try repository.createToken("ci", allowing: ["push:development"])
        let server = try DepotServe(root: repository.root, arguments: ["--deliver-webhooks-every", "0"])
        defer { server.stop() }
        // Through the API: a publish this server makes, which its publish durations count.
        let upload = try server.curl(
            "api/v1/distributions/development/packages",
            ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + (try packages.make("wren", "1.0-1"))])
        #expect(upload.text.hasPrefix("HTTP/1.1 201"), "\(upload.text)")
        #expect(try server.curl("dists/development/InRelease").text.hasPrefix("HTTP/1.1 200"))
        #expect(try server.curl("pool/none").text.hasPrefix("HTTP/1.1 404"))
        let started = Date()
        let scrape = try server.curl("metrics")
        #expect(scrape.text.hasPrefix("HTTP/1.1 200"))
        #expect(scrape.text.contains("Content-Type: text/plain; version=0.0.4"))
        let body = try #require(scrape.text.components(separatedBy: "\r\n\r\n").dropFirst().first)
        let samples = try Self.parse(body)
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(value("depot_packages", ["distribution": "development"]) == 4)
        #expect(value("depot_packages", ["distribution": "staging"]) == 1)
        #expect(value("depot_packages", ["distribution": "production"]) == 0)
        #expect(value("depot_pending_promotions", ["from": "development", "to": "staging"]) == 3)
        #expect(value("depot_pending_promotions", ["from": "staging", "to": "production"]) == 1)
        for distribution in ["development", "staging", "production"] {
            #expect(value("depot_unpublished_changes", ["distribution": distribution]) == 0)
            let published = try #require(value("depot_last_publish_timestamp_seconds", ["distribution": distribution]))
            #expect(abs(published - started.timeIntervalSince1970) < 120)
        }
        // Valid-For is production's alone: a week, less the seconds since its publish.
        let valid = try #require(value("depot_release_valid_seconds", ["distribution": "production"]))
        #expect(valid <= 7 * 86400 && valid > 7 * 86400 - 120)
        #expect(value("depot_release_valid_seconds", ["distribution": "staging"]) == nil)
        // Five changes, none delivered (this server delivers none).
        // Named without the URL's path, which for Slack is the secret.
        let receiver = Webhook(url: silent.url).publicName
        #expect(receiver.hasPrefix("http://127.0.0.1:\(silent.port)/… (") && !receiver.contains("/events"))
        #expect(value("depot_webhook_undelivered", ["receiver": receiver]) == 5)
        #expect(!body.contains("/events"))
        #expect(value("depot_http_requests_total", ["status": "404"]) == 1)
        #expect(value("depot_http_requests_total", ["status": "201"]) == 1)
        #expect(value("depot_http_requests_total", ["status": "200"]) == 1)
        #expect(value("depot_publish_duration_seconds_count", ["distribution": "development"]) == 1)

        // A change made elsewhere (the CLI) shows at the next scrape.
        try #require(try repository.depot(["promote", "lark", "kite", "--from", "development"]).status == 0)
        let next = try Self.parse(
            try #require(try server.curl("metrics").text.components(separatedBy: "\r\n\r\n").dropFirst().first))
        #expect(next.first { $0.name == "depot_packages" && $0.labels == ["distribution": "staging"] }?.value == 3)
        #expect(
            next.first { $0.name == "depot_pending_promotions" && $0.labels == ["from": "development", "to": "staging"] }?
                .value == 1)
    }

    @Test func noMetricsTurnsTheEndpointOff() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let server = try DepotServe(root: repository.root, arguments: ["--no-metrics"])
        defer { server.stop() }
        #expect(try server.curl("metrics").text.hasPrefix("HTTP/1.1 404"))
    }
}
