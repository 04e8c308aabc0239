import Foundation

/// Paths and processes shared by the test targets.
public enum TestSupport {
    /// The package's root folder, found from this file's place in it.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func fixture(_ relativePath: String) -> String {
        packageRoot.appendingPathComponent("Fixtures").appendingPathComponent(relativePath).path
    }

    public static func fixtures(in folder: String) -> [String] {
        let directory = packageRoot.appendingPathComponent("Fixtures").appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".deb") }.sorted().map { directory.appendingPathComponent($0).path }
    }

    public struct ProcessResult: Sendable {
        public var status: Int32
        public var standardOutput: Data
        public var standardError: String
        public var text: String { String(decoding: standardOutput, as: UTF8.self) }
    }

    /// Runs a program to completion, collecting its output; `input` goes to its stdin.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        try process.run()
        if let input {
            DispatchQueue.global().async {
                inputPipe.fileHandleForWriting.write(input)
                try? inputPipe.fileHandleForWriting.close()
            }
        }
        // Drain both pipes at once so a chatty process never blocks on a full pipe.
        nonisolated(unsafe) var errorData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorData = error.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus, standardOutput: outputData,
            standardError: String(decoding: errorData, as: UTF8.self))
    }

    /// Whether a program can be found on PATH.
    public static func hasProgram(_ name: String) -> Bool {
        (try? run("sh", ["-c", "command -v \(name)"]).status) == 0
    }

    /// Debian's main index as apt keeps it on this machine (lz4-compressed; apt-helper
    /// prints it plain), or nil when apt has no lists here.
    public static let debianIndexPath: String? = {
        let lists = "/var/lib/apt/lists"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: lists)) ?? []
        let indices = names.filter { $0.contains("_binary-") && $0.contains("_Packages") }
            .map { "\(lists)/\($0)" }
        return indices.max { fileSize($0) < fileSize($1) }
    }()

    public static func debianIndex() throws -> Data? {
        guard let path = debianIndexPath else { return nil }
        if path.hasSuffix("_Packages") { return FileManager.default.contents(atPath: path) }
        let result = try run("/usr/lib/apt/apt-helper", ["cat-file", path])
        return result.status == 0 ? result.standardOutput : nil
    }

    private static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// A fresh directory under the system's temporary folder, short enough for gpg-agent's
    /// socket paths.
    public static func makeTemporaryDirectory(_ prefix: String = "depot") throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
