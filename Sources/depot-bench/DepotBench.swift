import ArgumentParser

/// Benchmarks run on demand, each against a peer measured in the same run. Figures from
/// here, never from timed unit tests.
@main
struct DepotBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "depot-bench",
        abstract: "Measure Depot against its peers on this machine.",
        discussion: """
            Build in release mode first, as installed: swift build -c release --static-swift-stdlib
            Example: .build/release/depot-bench debfile --size-mb 200
            """,
        subcommands: [
            DebFileBenchmark.self, IndexParseBenchmark.self, RepositoryBenchmark.self, IndexPublishBenchmark.self,
            ServeBenchmark.self, ObjectStorageBenchmark.self, NodesBenchmark.self, OperationsBenchmark.self,
        ])
}
