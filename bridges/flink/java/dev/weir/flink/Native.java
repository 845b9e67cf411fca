package dev.weir.flink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The JNI functions of the native library (bridges/flink/native). The library travels in the
 * bridge jar and is loaded once per class loader: it is copied to a file of its own first, since a
 * JVM binds a native library file to the first class loader that loads it. The copy is deleted as
 * soon as it is loaded (the mapping outlives the name), so a JVM that is killed leaves none behind.
 *
 * <p>Every function throws {@link WeirException} on failure. Handles are owned by one Flink
 * subtask and used from its thread only.
 */
final class Native {
    private static boolean loaded;

    private Native() {}

    static synchronized void load() {
        if (loaded) {
            return;
        }
        String override = System.getenv("WEIR_FLINK_NATIVE");
        try {
            if (override != null && !override.isEmpty()) {
                System.load(override);
            } else {
                String name = System.mapLibraryName("weir_flink");
                Path file = Files.createTempFile("weir-flink-", "-" + name);
                file.toFile().deleteOnExit();
                try (InputStream in = Native.class.getResourceAsStream("/native/" + name)) {
                    if (in == null) {
                        throw new WeirException(
                                "the bridge jar has no native/" + name
                                        + ": build it with scripts/build-flink-bridge on this platform");
                    }
                    Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                }
                System.load(file.toString());
                try {
                    Files.delete(file);
                } catch (IOException stillMapped) {
                    // Windows keeps a loaded library's file; deleteOnExit removes it at a clean exit.
                }
            }
        } catch (IOException e) {
            throw new WeirException("cannot unpack the Weir native library: " + e);
        }
        loaded = true;
    }

    /** [bounded, row kinds...] of a source, or [1, row kinds...] a sink accepts. */
    static native byte[] describe(String ddl, boolean sink);

    /** u32 count, then per split: u32 len | id, u32 len | payload. */
    static native byte[] plan(String ddl);

    static native long openReader(String ddl);

    static native void addSplit(long reader, String id, byte[] payload, byte[] state);

    /** [0, batch...] rows, [1] nothing yet, [2] every split given is finished. */
    static native byte[] next(long reader);

    /** u32 count, then per split: u32 len | id, u8 0 finished / 1 reading, u32 len | state. */
    static native byte[] checkpoint(long reader);

    static native void closeReader(long reader);

    static native long openWriter(String ddl, int subtask, int parallelism, long restoredCheckpoint);

    static native void write(long writer, byte[] batch);

    /** u32 count, then each committable as u32 len | bytes. */
    static native byte[] prepare(long writer, long checkpointId);

    static native void closeWriter(long writer);

    static native long openCommitter(String ddl);

    static native void commit(long committer, byte[] committables, boolean abort);

    static native void closeCommitter(long committer);

    static native long openLookup(String ddl, int[] keys);

    /** The table's rows matching a batch of key rows. */
    static native byte[] lookup(long lookup, byte[] keys);

    static native void closeLookup(long lookup);

    /** Every option key of every format component, newline-separated. */
    static native byte[] formatOptions();

    /** The row kinds of the format the DDL names (its options validated). */
    static native byte[] describeFormat(String ddl);

    static native long openFormat(String ddl, boolean encode);

    /** The rows one record makes, as a batch. */
    static native byte[] decode(long format, byte[] record);

    /** The records of a batch, as a list. */
    static native byte[] encode(long format, byte[] batch);

    static native void closeFormat(long format);

    static native long openSearch(String ddl, int column);

    /** u32 count, the scores as f32, then the rows as a batch. */
    static native byte[] search(long search, float[] query, int topK);

    static native void closeSearch(long search);
}
