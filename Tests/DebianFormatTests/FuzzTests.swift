import DebianFormat
import DepotTestSupport
import Foundation
import Testing

/// Random and mutated inputs for the readers that take bytes from outside: they must answer
/// every one with a value or a typed error, never a crash or a hang. Seeds are fixed so a
/// failure can be replayed.
@Suite struct FuzzTests {
    static let seeds: [[UInt8]] = (TestSupport.fixtures(in: "good") + TestSupport.fixtures(in: "real")).compactMap {
        FileManager.default.contents(atPath: $0).map { [UInt8]($0) }
    }

    @Test func debFileSurvivesMutatedFixtures() {
        var generator = SeededGenerator(seed: 2026)
        var accepted = 0
        var refused = 0
        for round in 0..<3_000 {
            var bytes = Self.seeds[round % Self.seeds.count]
            mutate(&bytes, using: &generator)
            do {
                _ = try DebFile.read(bytes: bytes, name: "fuzz-\(round)")
                accepted += 1
            } catch {
                #expect(error.file == "fuzz-\(round)")
                refused += 1
            }
        }
        #expect(accepted + refused == 3_000)
        // Most single mutations land in a compressed member and must be caught.
        #expect(refused > 100)
    }

    @Test func debFileSurvivesRandomBytes() {
        var generator = SeededGenerator(seed: 822)
        for round in 0..<1_000 {
            var bytes = (0..<Int.random(in: 0..<512, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            // Half of the cases start like an ar archive, to get past the first check.
            if round % 2 == 0 { bytes = Array("!<arch>\ndebian-binary   ".utf8) + bytes }
            #expect(throws: DebFileError.self) { try DebFile.read(bytes: bytes, name: "random") }
        }
    }

    @Test func deb822ParserSurvivesMutatedText() throws {
        var generator = SeededGenerator(seed: 5822)
        let sample = Array(
            """
            Package: snowbird
            Version: 1.4.2-1
            Description: text
             continued
             .
             more
            # comment

            Package: other
            Depends: a (>= 1), b | c

            """.utf8)
        let alphabet = Array(" \t\n:#.-aZ\u{00}".utf8) + [0xC3, 0xFF]
        for _ in 0..<3_000 {
            var bytes = sample
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = alphabet.randomElement(using: &generator)!
                case 1: bytes.insert(alphabet.randomElement(using: &generator)!, at: index)
                default: bytes.remove(at: index)
                }
            }
            for allowComments in [false, true] {
                if let document = try? Deb822Document(parsing: bytes, allowComments: allowComments) {
                    // Whatever parses must write back to the same bytes.
                    #expect(Array(document.rendered().utf8) == bytes)
                }
            }
        }
    }

    /// One to four edits: a flipped byte, a cut, a duplicated run or a zeroed run.
    private func mutate(_ bytes: inout [UInt8], using generator: inout SeededGenerator) {
        for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
            let index = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: bytes[index] ^= UInt8.random(in: 1...255, using: &generator)
            case 1: bytes.removeSubrange(index...)
            case 2:
                let end = min(bytes.count, index + Int.random(in: 1...64, using: &generator))
                bytes.insert(contentsOf: bytes[index..<end], at: index)
            default:
                let end = min(bytes.count, index + Int.random(in: 1...16, using: &generator))
                for position in index..<end { bytes[position] = 0 }
            }
        }
    }
}
