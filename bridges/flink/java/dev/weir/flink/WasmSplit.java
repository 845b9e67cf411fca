package dev.weir.flink;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * One split a Weir source planned (a file, a partition, a socket): its id, the component's own
 * description of it, and — in a checkpoint — the component's reader state (null: from the start).
 */
final class WasmSplit implements SourceSplit {
    final String id;
    final byte[] payload;
    final byte[] state;

    WasmSplit(String id, byte[] payload, byte[] state) {
        this.id = id;
        this.payload = payload;
        this.state = state;
    }

    @Override
    public String splitId() {
        return id;
    }

    WasmSplit withState(byte[] state) {
        return new WasmSplit(id, payload, state);
    }

    @Override
    public String toString() {
        return "WasmSplit{" + id + (state == null ? "" : ", resumed") + "}";
    }

    static final class Serializer implements SimpleVersionedSerializer<WasmSplit> {
        static final Serializer INSTANCE = new Serializer();

        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(WasmSplit split) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            write(out, split);
            out.flush();
            return bytes.toByteArray();
        }

        @Override
        public WasmSplit deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("unknown Weir split version " + version);
            }
            return read(new DataInputStream(new ByteArrayInputStream(serialized)));
        }

        static void write(DataOutputStream out, WasmSplit split) throws IOException {
            out.writeUTF(split.id);
            out.writeInt(split.payload.length);
            out.write(split.payload);
            out.writeInt(split.state == null ? -1 : split.state.length);
            if (split.state != null) out.write(split.state);
        }

        static WasmSplit read(DataInputStream in) throws IOException {
            String id = in.readUTF();
            byte[] payload = new byte[in.readInt()];
            in.readFully(payload);
            int n = in.readInt();
            byte[] state = null;
            if (n >= 0) {
                state = new byte[n];
                in.readFully(state);
            }
            return new WasmSplit(id, payload, state);
        }
    }
}
