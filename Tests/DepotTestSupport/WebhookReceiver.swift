import Foundation

/// A webhook receiver on 127.0.0.1 (`Fixtures/webhook-receiver.py`) that records every
/// request it gets, in order, and answers as its mode says: `ok`, `fail-first:N`, `silent`,
/// `redirect` or `huge`.
public final class WebhookReceiver: @unchecked Sendable {
    private let process: Process
    private let scratch: URL
    private let log: URL
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)/events" }

    /// One request as the receiver got it: header names in lower case.
    public struct Request: Decodable, Sendable {
        public var number: Int
        public var headers: [String: String]
        public var body: String

        /// The body's JSON object.
        public var object: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
    }

    public init(mode: String = "ok") throws {
        scratch = try TestSupport.makeTemporaryDirectory("receiver")
        log = scratch.appendingPathComponent("requests.jsonl")
        let portFile = scratch.appendingPathComponent("port")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        FileManager.default.createFile(atPath: portFile.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestSupport.fixture("webhook-receiver.py"), mode, log.path]
        process.standardOutput = try FileHandle(forWritingTo: portFile)
        process.standardError = FileHandle.nullDevice
        try process.run()
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = Int(((try? String(contentsOf: portFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
            if port == nil { usleep(25_000) }
        }
        guard let port else {
            process.terminate()
            throw TestSupportError("the webhook receiver did not start")
        }
        self.port = port
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Every request so far, in the order they arrived.
    public func requests() -> [Request] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }
}
