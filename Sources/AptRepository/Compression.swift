import CDeflate
import CLZMA

/// Compressed forms of index files, built from independently compressed pieces so that a
/// change to one piece never makes Depot recompress the rest.
///
/// gzip: each piece is a complete gzip member; members concatenated form a valid gzip file
/// (RFC 1952 §2.2), which apt reads whole. xz: apt's decoder stops after the first xz
/// *stream*, so pieces are xz *blocks* of one stream, tied together by a stream header, an
/// index of the blocks and a stream footer (the .xz file format, §2.1 and §4).
public enum Compression {
    /// One gzip member holding `bytes`, made by libdeflate at level 6: on `Packages` text
    /// that is smaller than zlib's `-9` (what Debian's archive uses) in less than half the time.
    public static func gzipMember(_ bytes: [UInt8]) throws(CompressionError) -> [UInt8] {
        guard let compressor = libdeflate_alloc_compressor(6) else { throw .gzip("out of memory") }
        defer { libdeflate_free_compressor(compressor) }
        var output = [UInt8](repeating: 0, count: libdeflate_gzip_compress_bound(compressor, bytes.count))
        let size = bytes.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                // libdeflate reads nothing of an empty input, but wants a pointer all the same.
                libdeflate_gzip_compress(
                    compressor, input.baseAddress ?? UnsafeRawPointer(out.baseAddress!), input.count, out.baseAddress,
                    out.count)
            }
        }
        guard size > 0 else { throw .gzip("the compressed data did not fit its bound") }
        output.removeLast(output.count - size)
        return output
    }

    /// One xz block holding `bytes` (LZMA2 at preset 6 with a hash-chain match finder, CRC64),
    /// with what the stream's index needs to list it.
    public static func xzBlock(_ bytes: [UInt8]) throws(CompressionError) -> XZBlock {
        var options = lzma_options_lzma()
        guard lzma_lzma_preset(&options, 6) == 0 else { throw .xz("unsupported preset") }
        // A dictionary larger than the input finds no more matches, but the encoder still
        // allocates and clears memory for it (8 MiB at preset 6, ~90 MiB of match finder):
        // for chunks of tens of kilobytes that was most of the time spent.
        options.dict_size = UInt32(clamping: max(4096, min(Int(options.dict_size), bytes.count)))
        // Preset 6's binary-tree match finder looks for longer matches than index text holds:
        // hash chains with nice_len 32 compress chunks of Debian's own Packages 1.85x as fast
        // for 1.5 % more bytes (normal mode stays: fast mode costs 20 %).
        options.mf = LZMA_MF_HC4
        options.nice_len = 32
        var output = [UInt8](repeating: 0, count: lzma_block_buffer_bound(bytes.count))
        var outputPosition = 0
        var unpaddedSize: lzma_vli = 0
        let status = withUnsafeMutablePointer(to: &options) { optionsPointer in
            var filters = [
                lzma_filter(id: depot_lzma_filter_lzma2, options: UnsafeMutableRawPointer(optionsPointer)),
                lzma_filter(id: depot_lzma_vli_unknown, options: nil),
            ]
            return filters.withUnsafeMutableBufferPointer { filterBuffer in
                var block = lzma_block()
                block.version = 0
                block.check = LZMA_CHECK_CRC64
                block.filters = filterBuffer.baseAddress
                let status = bytes.withUnsafeBufferPointer { input in
                    output.withUnsafeMutableBufferPointer { out in
                        lzma_block_buffer_encode(
                            &block, nil, input.baseAddress, input.count, out.baseAddress, &outputPosition, out.count)
                    }
                }
                unpaddedSize = lzma_block_unpadded_size(&block)
                return status
            }
        }
        guard status == LZMA_OK else { throw .xz("block encoder returned \(status.rawValue)") }
        output.removeLast(output.count - outputPosition)
        return XZBlock(bytes: output, unpaddedSize: UInt64(unpaddedSize), uncompressedSize: UInt64(bytes.count))
    }

    /// A complete single-stream .xz file made of `blocks`, in order.
    public static func xzStream(_ blocks: [XZBlock]) throws(CompressionError) -> [UInt8] {
        var flags = lzma_stream_flags()
        flags.version = 0
        flags.check = LZMA_CHECK_CRC64
        var header = [UInt8](repeating: 0, count: 12)
        guard lzma_stream_header_encode(&flags, &header) == LZMA_OK else { throw .xz("stream header") }

        guard let index = lzma_index_init(nil) else { throw .xz("out of memory") }
        defer { lzma_index_end(index, nil) }
        for block in blocks {
            guard lzma_index_append(index, nil, block.unpaddedSize, block.uncompressedSize) == LZMA_OK else {
                throw .xz("index append")
            }
        }
        let indexSize = Int(lzma_index_size(index))
        var indexBytes = [UInt8](repeating: 0, count: indexSize)
        var indexPosition = 0
        guard lzma_index_buffer_encode(index, &indexBytes, &indexPosition, indexSize) == LZMA_OK else {
            throw .xz("index encode")
        }
        flags.backward_size = lzma_vli(indexSize)
        var footer = [UInt8](repeating: 0, count: 12)
        guard lzma_stream_footer_encode(&flags, &footer) == LZMA_OK else { throw .xz("stream footer") }

        var stream = header
        stream.reserveCapacity(blocks.reduce(24 + indexSize) { $0 + $1.bytes.count })
        for block in blocks { stream += block.bytes }
        return stream + indexBytes + footer
    }
}

/// An encoded xz block and the sizes a stream index records for it.
public struct XZBlock: Sendable, Hashable {
    public var bytes: [UInt8]
    public var unpaddedSize: UInt64
    public var uncompressedSize: UInt64

    public init(bytes: [UInt8], unpaddedSize: UInt64, uncompressedSize: UInt64) {
        self.bytes = bytes
        self.unpaddedSize = unpaddedSize
        self.uncompressedSize = uncompressedSize
    }
}

public enum CompressionError: Error, Sendable, CustomStringConvertible {
    case gzip(String)
    case xz(String)

    public var description: String {
        switch self {
        case .gzip(let detail): "gzip compression failed: \(detail)"
        case .xz(let detail): "xz compression failed: \(detail)"
        }
    }
}
