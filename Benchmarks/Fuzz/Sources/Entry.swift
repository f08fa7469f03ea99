// Cutover's fuzz harnesses (see Harnesses.swift).
//
// Built for libFuzzer by Benchmarks/fuzz.sh (AddressSanitizer, libFuzzer's coverage instrumentation, its driver
// without a main, and -DCUTOVER_FUZZING): the harness is named by CUTOVER_FUZZ_TARGET and libFuzzer's driver runs it.
// Built as usual, the same target replays inputs:
//
//   cutover-fuzz HARNESS FILE_OR_FOLDER…
//
// runs every file through the harness (a folder: every file in it) and exits 0 when none trapped.
import Foundation

#if CUTOVER_FUZZING
/// libFuzzer's driver (from `libclang_rt.fuzzer_no_main`): it parses libFuzzer's options and calls the harness.
@_extern(c, "LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The harness libFuzzer drives, named by CUTOVER_FUZZ_TARGET.
let selectedHarness: Harness = {
    let name = ProcessInfo.processInfo.environment["CUTOVER_FUZZ_TARGET"] ?? ""
    guard let harness = Harness(rawValue: name) else {
        fatalError("CUTOVER_FUZZ_TARGET must be one of \(Harness.allCases.map(\.rawValue))")
    }
    return harness
}()

/// Hands the process to libFuzzer with the selected harness.
@main
struct FuzzDriver {
    static func main() {
        _ = selectedHarness
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            selectedHarness.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        })
    }
}
#else
/// Replays inputs through a harness.
@main
struct FuzzReplay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let harness = Harness(rawValue: name), arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: cutover-fuzz \(Harness.allCases.map(\.rawValue).joined(separator: "|")) FILE_OR_FOLDER...\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                FileHandle.standardError.write(Data("cutover-fuzz: \(path) does not exist\n".utf8))
                exit(2)
            }
            let files = isFolder.boolValue
                ? (try FileManager.default.contentsOfDirectory(atPath: path)).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                harness.run(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
                count += 1
            }
        }
        print("\(harness.rawValue): \(count) inputs replayed, no finding")
    }
}
#endif
