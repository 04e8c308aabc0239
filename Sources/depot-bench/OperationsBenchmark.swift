import ArgumentParser
import Foundation

/// What #24's operations cost: a push into N with webhooks configured (one receiver never
/// answering) against the same push without them, in the same run; delivering 1,000 events
/// to a receiver on 127.0.0.1; and a scrape of `/metrics` at N.
struct OperationsBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operations",
        abstract: "Push with and without webhooks, delivering 1,000 events, scraping /metrics.",
        discussion: """
            Needs GNU time, curl and python3 (the receivers). The corpus is shared with 'repository'.
            """)

    @Option(help: "How many packages the distribution holds.")
    var count = 10_000

    @Option(help: "Working folder: corpus, signing key and repository.")
    var work = "/tmp/depot-bench"

    @Option(help: "Pushes measured each way (the median is reported).")
    var pushes = 7

    @Option(help: "Events delivered to the receiver.")
    var events = 1_000

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let corpus = try Corpus.ensure(count: count, in: work)
        let key = try SigningKey.ensure(in: work)
        let depotBinary = try depotBesideBench()
        let extras = "\(work)/extra-operations"
        try Corpus.build((1...(2 * pushes)).map { "bench-op-\($0)" }, into: extras)
        let directory = "\(work)/operations-\(count)"
        try? FileManager.default.removeItem(atPath: directory)
        let depot = "'\(depotBinary)' --root '\(directory)'"
        defer {
            // The agents of the repository's keyring and of the shared key, which would keep the
            // work folder's file system busy.
            _ = try? shell("gpgconf --homedir '\(directory)/.depot/gnupg' --kill gpg-agent")
            _ = try? shell("gpgconf --homedir '\(key.home)' --kill gpg-agent")
        }
        try shell(
            "\(depot) init --sign-with \(key.fingerprint) --gnupg-home '\(key.home)' --architectures amd64 --distributions bench,prod >/dev/null")
        print("importing \(count) packages...")
        try shell("ls -d '\(corpus.directory)'/*.deb | \(depot) push bench --files-from - >/dev/null")

        // (a) one push into N while depot serve runs, without webhooks, then with two (one
        // never answering) that it delivers.
        let port = 18191
        let plain = try launchServer(depotBinary, ["--root", directory, "serve", "--listen", "127.0.0.1:\(port)"], logPath: nil)
        try waitForHTTP(port: port)
        var without: [Timed] = []
        for index in 1...pushes {
            without.append(try Timed.run("\(depot) push bench '\(extras)/bench-op-\(index)_1.0-1_amd64.deb' >/dev/null"))
        }
        plain.terminate()
        plain.waitUntilExit()
        let silent = try Receiver(mode: .silent, log: "\(work)/silent.log")
        let listening = try Receiver(mode: .answering, log: "\(work)/listening.log")
        defer {
            silent.stop()
            listening.stop()
        }
        let configuration = try String(contentsOfFile: directory + "/depot.conf", encoding: .utf8)
        try (configuration + "\nWebhook: http://127.0.0.1:\(silent.port)/\n\nWebhook: http://127.0.0.1:\(listening.port)/\n")
            .write(toFile: directory + "/depot.conf", atomically: true, encoding: .utf8)
        let server = try launchServer(depotBinary, ["--root", directory, "serve", "--listen", "127.0.0.1:\(port)"], logPath: nil)
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        try waitForHTTP(port: port)
        var with: [Timed] = []
        for index in (pushes + 1)...(2 * pushes) {
            with.append(try Timed.run("\(depot) push bench '\(extras)/bench-op-\(index)_1.0-1_amd64.deb' >/dev/null"))
        }

        // (c) /metrics at N: the first scrape counts the listings, later ones reuse the counts.
        let metrics = "http://127.0.0.1:\(port)/metrics"
        let first = try curlSeconds(metrics)
        var scrapes: [Double] = []
        for _ in 0..<50 { scrapes.append(try curlSeconds(metrics)) }

        // (b) events approvals make (no publish each), delivered by one 'depot webhooks --deliver'.
        server.terminate()
        server.waitUntilExit()
        try shell("\(depot) webhooks --deliver >/dev/null 2>&1 || true")
        try (configuration + "\nWebhook: http://127.0.0.1:\(listening.port)/events\n")
            .write(toFile: directory + "/depot.conf", atomically: true, encoding: .utf8)
        print("recording \(events) events (approvals)...")
        let names = (1...events).map { String(format: "bench-%05d", ($0 - 1) % count + 1) }
        try names.joined(separator: "\n").write(toFile: "\(work)/approve.list", atomically: true, encoding: .utf8)
        // By a user other than the pusher: four eyes.
        try shell("xargs -P 2 -I{} sh -c \"USER=reviewer \(depot) approve prod {}=1.0-1 >/dev/null\" < '\(work)/approve.list'")
        let delivered = try Timed.run("\(depot) webhooks --deliver >/dev/null")

        print("")
        print("N = \(count); medians of \(pushes) (wall, CPU, peak RSS)")
        print("(a) push one into N and republish")
        print("  no webhooks           " + median(without).columns)
        print("  two webhooks, one dead" + median(with).columns)
        print(String(format: "  with webhooks: %.0f %% of the time without", median(with).wall / median(without).wall * 100))
        print("(b) deliver \(events) events to a receiver on 127.0.0.1 (depot webhooks --deliver)")
        print("  depot                 " + delivered.columns)
        print(String(format: "  %.0f events/s", Double(events) / delivered.wall))
        let sorted = scrapes.sorted()
        print("(c) GET /metrics at N (curl's time_total)")
        print(String(format: "  first %.1f ms; then median %.1f ms, slowest %.1f ms of %d", first * 1000,
            sorted[sorted.count / 2] * 1000, sorted.last! * 1000, sorted.count))
    }

    private func median(_ runs: [Timed]) -> Timed { runs.sorted { $0.wall < $1.wall }[runs.count / 2] }

    private func curlSeconds(_ url: String) throws -> Double {
        Double(String(decoding: try shell("curl -s -o /dev/null -w '%{time_total}' '\(url)'"), as: UTF8.self)) ?? 0
    }

    /// A receiver on 127.0.0.1: one that accepts connections and never answers, or one that
    /// answers 204 to every POST (Python's threading HTTP server).
    final class Receiver {
        enum Mode { case silent, answering }
        let process: Process
        let port: Int

        init(mode: Mode, log: String) throws {
            let script =
                switch mode {
                case .silent:
                    """
                    import socket, time
                    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1024)
                    print(s.getsockname()[1], flush=True)
                    held = []
                    while True:
                        held.append(s.accept())
                    """
                case .answering:
                    """
                    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
                    class H(BaseHTTPRequestHandler):
                        protocol_version = "HTTP/1.1"
                        def log_message(self, *a): pass
                        def do_POST(self):
                            self.rfile.read(int(self.headers.get("Content-Length", "0")))
                            self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
                    s = ThreadingHTTPServer(("127.0.0.1", 0), H)
                    print(s.server_address[1], flush=True)
                    s.serve_forever()
                    """
                }
            FileManager.default.createFile(atPath: log, contents: nil)
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script]
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            try process.run()
            var found: Int?
            for _ in 0..<100 where found == nil {
                found = Int(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
                if found == nil { usleep(50_000) }
            }
            guard let found else { throw BenchmarkError("the receiver did not start") }
            port = found
        }

        func stop() {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
