//! Frames: bad `sum`/`seq`, fragments that never complete or grow, oversize messages,
//! garbage, header floods, and messages that share an id.

use super::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_and_seq_headers_out_of_range_are_refused_without_harm() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server.builder(dispatcher).build().start().await.unwrap();
    let mut peer = server.peer().await;
    let bad_sums = [
        "2147483648",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "340282366920938463463374607431768211456",
        "-1",
        "-2147483648",
        "0",
        "abc",
        "",
        " 2",
        "1.5",
        "2e3",
        "0x10",
    ];
    let mut bad = 0;
    for (i, sum) in bad_sums.iter().enumerate() {
        let id = format!("badsum-{i}");
        assert!(peer.send(&data(&id, sum, "0", event(&id, "bad sum"))).await);
        bad += 1;
    }
    let bad_seqs = [
        "2",
        "3",
        "-1",
        "18446744073709551615",
        "99999999999999999999",
        "x",
        "",
    ];
    for (i, seq) in bad_seqs.iter().enumerate() {
        let id = format!("badseq-{i}");
        assert!(peer.send(&data(&id, "2", seq, event(&id, "bad seq"))).await);
        bad += 1;
    }
    // Missing seq on a fragmented message.
    let no_seq = frame(
        1,
        &[("type", "event"), ("message_id", "noseq"), ("sum", "2")],
        Some(b"{}".to_vec()),
    );
    assert!(peer.send(&no_seq).await);
    bad += 1;
    assert_alive(&mut peer, "bad sum/seq headers").await;
    let stats = conn.stats();
    assert_eq!(
        seen.ids(),
        ["alive-bad sum/seq headers"],
        "no handler ran for a refused frame"
    );
    assert_eq!(
        stats.bad_frames, bad,
        "each refused frame is counted: {stats:?}"
    );
    assert_eq!(
        stats.connections, 1,
        "a bad header does not cost the connection"
    );
    assert!(
        peer.other_acks.is_empty(),
        "refused frames are not acknowledged as handled: {:?}",
        peer.unclaimed()
    );
    peer.drain();
    stop(conn).await;
}

// ---- 2. fragments that never complete -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_fragments_expire_and_many_message_ids_stay_bounded() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server
        .builder(dispatcher)
        .fragment_ttl(Duration::from_secs(1))
        .build()
        .start()
        .await
        .unwrap();
    let mut peer = server.peer().await;
    const N: usize = 5_000;
    let text = "t".repeat(16 * 1024);
    let parts = |i: usize| fragments(&format!("m{i}"), &event(&format!("e{i}"), &text), 3);
    for i in 0..N {
        assert!(peer.feed(&parts(i)[0]).await);
    }
    // The newest one is still there and completes.
    for f in &parts(N - 1)[1..] {
        assert!(peer.send(f).await);
    }
    let ack = peer
        .ack_for(&format!("m{}", N - 1), WAIT)
        .await
        .expect("the newest completes");
    assert_eq!(ack_code(&ack), 200);
    // Unbounded, they would hold N × 5.5 KiB = 27 MiB; at most 256 messages are kept.
    let held = conn.stats().pending_fragment_bytes;
    assert!(
        held <= 256 * 6 * 1024,
        "pending fragments are bounded: {held} bytes held"
    );
    // The oldest was pushed out; its remaining fragments start a new message that never
    // completes.
    for f in &parts(0)[1..] {
        assert!(peer.send(f).await);
    }
    // Past the TTL, a pending one has expired: its remaining fragments do not complete it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for f in &parts(N - 2)[1..] {
        assert!(peer.send(f).await);
    }
    assert_alive(&mut peer, "expired fragments").await;
    assert_eq!(
        seen.ids(),
        [format!("e{}", N - 1), "alive-expired fragments".to_owned()],
        "evicted and expired messages are not handled"
    );
    assert!(peer.other_acks.is_empty(), "{:?}", peer.unclaimed());
    peer.drain();
    stop(conn).await;
}

// ---- 2b. partial messages growing after their creation ------------------------------------

// Found by the hostile run, fixed: The budget of incomplete messages (4 × max_message_bytes) was checked only when a new
// message started, so 256 partial messages could each grow to the limit (+85..121 MiB for a
// 2 MiB budget when found). Now every fragment is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_messages_cannot_grow_past_the_pending_byte_budget() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let max = 512 * 1024;
    let conn = server
        .builder(dispatcher)
        .max_message_bytes(max)
        .fragment_ttl(Duration::from_secs(30))
        .build()
        .start()
        .await
        .unwrap();
    let mut peer = server.peer().await;
    let chunk = vec![b'z'; 16 * 1024];
    // 256 messages of 32 fragments: a tiny first fragment for each (all fit the budget),
    // then 30 fragments of 16 KiB for each (496 KiB per message, under max); the last
    // fragment never comes.
    for m in 0..256 {
        assert!(
            peer.send(&data(&format!("g{m}"), "32", "0", b"{".to_vec()))
                .await
        );
    }
    for seq in 1..31 {
        for m in 0..256 {
            assert!(
                peer.feed(&data(
                    &format!("g{m}"),
                    "32",
                    &seq.to_string(),
                    chunk.clone()
                ))
                .await
            );
        }
    }
    assert_alive(&mut peer, "growing partial messages").await;
    let held = conn.stats().pending_fragment_bytes as usize;
    println!("256 partial messages grown to 496 KiB each: {held} bytes held (budget 2 MiB)");
    assert!(
        held <= 4 * max,
        "incomplete messages hold at most 4 × max_message_bytes (2 MiB): {held} bytes"
    );
    assert!(held > max, "the budget is used, not emptied: {held} bytes");
    assert_eq!(seen.ids(), ["alive-growing partial messages"]);
    peer.drain();
    stop(conn).await;
}

// ---- 3. payloads over max_message_bytes ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_messages_are_refused_without_dropping_the_connection() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server
        .builder(dispatcher)
        .max_message_bytes(64 * 1024)
        .build()
        .start()
        .await
        .unwrap();
    let mut peer = server.peer().await;
    // One frame over the limit.
    assert!(
        peer.send(&single("big", event_of_len("big", 100 * 1024)))
            .await
    );
    // Fragments adding up over it (4 × 25 KiB).
    for f in fragments("bigfrag", &event_of_len("bigfrag", 100 * 1024), 4) {
        assert!(peer.send(&f).await);
    }
    // Fragments adding up to just under it are fine.
    for f in fragments("fits", &event_of_len("fits", 60 * 1024), 4) {
        assert!(peer.send(&f).await);
    }
    let ack = peer
        .ack_for("fits", WAIT)
        .await
        .expect("a message under the limit is handled");
    assert_eq!(ack_code(&ack), 200);
    assert_alive(&mut peer, "oversize messages").await;
    let stats = conn.stats();
    assert_eq!(seen.ids(), ["fits", "alive-oversize messages"]);
    assert!(
        stats.bad_frames >= 2,
        "both oversize messages counted: {stats:?}"
    );
    assert_eq!(stats.connections, 1);
    assert!(peer.other_acks.is_empty(), "{:?}", peer.unclaimed());
    peer.drain();
    stop(conn).await;
}

// Found by the hostile run, fixed: The WebSocket limits were fixed at 16 MiB whatever max_message_bytes said: a 20 MiB
// event under a 32 MiB limit dropped the connection, on every redelivery. They now follow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_message_bytes_above_the_transport_limit_is_honoured() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server
        .builder(dispatcher)
        .max_message_bytes(32 * MIB)
        .build()
        .start()
        .await
        .unwrap();
    let big = single("big20", event_of_len("big20", 20 * MIB));
    let mut acked = false;
    let mut connections = 0;
    let deadline = Instant::now() + Duration::from_secs(8);
    // Like the platform: redeliver on each new connection until acknowledged (3 tries).
    while !acked && connections < 3 && Instant::now() < deadline {
        let Some(mut peer) = server.try_peer(Duration::from_secs(3)).await else {
            break;
        };
        connections += 1;
        // A client that refuses the message hangs up while it is still being written.
        if !peer.send(&big).await {
            continue;
        }
        if let Some(ack) = peer.ack_for("big20", Duration::from_secs(4)).await {
            acked = ack_code(&ack) == 200;
            peer.drain();
        }
    }
    println!(
        "20 MiB event with max_message_bytes 32 MiB: acked={acked} after {connections} connections"
    );
    assert!(
        acked,
        "a message under max_message_bytes is received ({connections} connections used)"
    );
    assert_eq!(connections, 1, "and costs no reconnect");
    assert_eq!(seen.ids(), ["big20"]);
    stop(conn).await;
}

// Found by the hostile run, fixed: A frame adds its own fields around the payload: a 16 MiB payload is a 16,777,306-byte
// WebSocket message, which a 16 MiB transport limit refused. The limit has 64 KiB of room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_exactly_max_message_bytes_fits_the_transport() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server.builder(dispatcher).build().start().await.unwrap();
    let mut peer = server.peer().await;
    let f = single("exact16", event_of_len("exact16", 16 * MIB));
    println!(
        "payload {} bytes, WebSocket message {} bytes",
        16 * MIB,
        f.to_bytes().len()
    );
    // A client that refuses the message hangs up while it is still being written.
    let sent = peer.send(&f).await;
    let ack = if sent {
        peer.ack_for("exact16", Duration::from_secs(6)).await
    } else {
        None
    };
    assert!(
        ack.as_ref().is_some_and(|a| ack_code(a) == 200),
        "a message of exactly max_message_bytes (the default 16 MiB) is accepted; connections: {}",
        conn.stats().connections
    );
    assert_eq!(seen.ids(), ["exact16"]);
    peer.drain();
    stop(conn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mib_websocket_message_under_default_limits_is_survived() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server.builder(dispatcher).build().start().await.unwrap();
    let mut peer = server.peer().await;
    // The client may hang up while this is still being written.
    let _ = peer
        .raw(Message::Binary(Bytes::from(vec![0x42u8; 20 * MIB])))
        .await;
    // The client may keep the connection (skipping the message) or replace it; either way
    // the next event arrives and nothing panics or loops.
    let id = "after-20mib";
    let _ = peer.send(&single(id, event(id, "after"))).await;
    let on_same = peer.ack_for(id, Duration::from_secs(2)).await;
    let same = on_same.is_some();
    if !same {
        let mut next = server.peer().await;
        assert!(next.send(&single(id, event(id, "after"))).await);
        let ack = next
            .ack_for(id, WAIT)
            .await
            .expect("delivered on the next connection");
        assert_eq!(ack_code(&ack), 200);
        next.drain();
    }
    let stats = conn.stats();
    println!("20 MiB WebSocket message: same connection kept = {same}; {stats:?}");
    assert_eq!(seen.ids(), [id]);
    assert!(stats.connections <= 2, "one reconnect at most: {stats:?}");
    stop(conn).await;
}

// ---- 4. absurd ClientConfig values --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_are_counted_and_the_connection_survives() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server.builder(dispatcher).build().start().await.unwrap();
    let mut peer = server.peer().await;
    let mut rng = fastrand::Rng::with_seed(0x1a2b_3c4d);
    let mut garbage: Vec<Vec<u8>> = (0..300)
        .map(|_| {
            let len = rng.usize(1..256);
            (0..len).map(|_| rng.u8(..)).collect()
        })
        .collect();
    let valid = single("trunc", event("trunc", "truncated")).to_bytes();
    garbage.extend([
        valid[..valid.len() - 3].to_vec(),              // truncated
        vec![0x28, 0x01],                               // headers (5) as a varint
        vec![0x0a, 0x02, 0x00, 0x00],                   // SeqID (1) as bytes
        vec![0x42, 0xff, 0xff, 0xff, 0xff, 0x0f],       // payload of 4 GiB announced
        [vec![0x08], vec![0xff; 11]].concat(),          // a varint of 11 bytes
        vec![0x2a, 0x03, 0x0a, 0x01, 0xff],             // a header key that is not UTF-8
        vec![0x0b],                                     // a group start
        vec![0x2a, 0x05, 0x0a, 0x10, b'a', b'b', b'c'], // a header longer than its frame
    ]);
    let expected_bad = garbage
        .iter()
        .filter(|g| Frame::from_bytes(g).is_err())
        .count();
    for g in &garbage {
        assert!(peer.raw(Message::Binary(Bytes::from(g.clone()))).await);
    }
    // Decodable but wrong: empty, unknown method, data without a type, a pong whose payload
    // is not JSON, an event payload that is not JSON / not an object.
    assert!(peer.raw(Message::Binary(Bytes::new())).await);
    assert!(
        peer.send(&frame(
            99,
            &[("type", "event"), ("message_id", "m99")],
            Some(event("m99", "x"))
        ))
        .await
    );
    assert!(
        peer.send(&frame(
            1,
            &[("message_id", "untyped")],
            Some(event("untyped", "x"))
        ))
        .await
    );
    assert!(
        peer.send(&frame(0, &[("type", "pong")], Some(vec![0xff, 0xfe, 0x00])))
            .await
    );
    assert!(
        peer.send(&single("notjson", b"\xff not json".to_vec()))
            .await
    );
    assert!(peer.send(&single("array", b"[1,2,3]".to_vec())).await);
    // Text messages, even one holding an event.
    assert!(peer.raw(Message::Text("hello".into())).await);
    assert!(
        peer.raw(Message::Text(
            String::from_utf8(event("text", "x")).unwrap().into()
        ))
        .await
    );
    for id in ["notjson", "array"] {
        let ack = peer
            .ack_for(id, WAIT)
            .await
            .expect("an undecodable event is answered");
        assert_ne!(ack_code(&ack), 200, "{id} is not acknowledged as handled");
    }
    assert_alive(&mut peer, "garbage").await;
    let stats = conn.stats();
    println!(
        "garbage: {expected_bad} undecodable of {}; {stats:?}",
        garbage.len()
    );
    assert_eq!(
        stats.bad_frames as usize, expected_bad,
        "every undecodable frame counted"
    );
    assert_eq!(seen.ids(), ["alive-garbage"], "no handler ran for garbage");
    assert_eq!(stats.connections, 1, "garbage does not cost the connection");
    peer.drain();
    stop(conn).await;
}

// Found by the hostile run, fixed: A header is 2 bytes on the wire and about 50 decoded: a 4 MiB frame of 2,097,152 empty
// headers cost +208 MiB and 2.2-3.4 s. Frames of over 64 headers are now refused before
// decoding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_many_tiny_headers_is_not_amplified() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server.builder(dispatcher).build().start().await.unwrap();
    let mut peer = server.peer().await;
    let mut bytes = single("headers", event("headers", "many headers")).to_bytes();
    let count = 2 * MIB;
    bytes.reserve(count * 2);
    for _ in 0..count {
        bytes.extend_from_slice(&[0x2a, 0x00]);
    }
    assert!(peer.raw(Message::Binary(Bytes::from(bytes))).await);
    // Refused before decoding (nothing to acknowledge: it has no usable headers).
    assert_alive(&mut peer, "a header flood").await;
    let stats = conn.stats();
    assert_eq!(stats.bad_frames, 1, "the frame was refused: {stats:?}");
    assert_eq!(
        seen.ids(),
        ["alive-a header flood"],
        "no handler ran for it"
    );
    assert_eq!(stats.connections, 1);
    // Under the limit, a frame is fine (its ack adds `biz_rt`, reaching the limit).
    let mut fine = single("63-headers", event("63-headers", "x"));
    while fine.headers.len() < lark_oapi::long_connection::frame::MAX_HEADERS - 1 {
        fine.headers.push(Header::default());
    }
    assert!(peer.send(&fine).await);
    let ack = peer
        .ack_for("63-headers", WAIT)
        .await
        .expect("acknowledged");
    assert_eq!(ack_code(&ack), 200);
    peer.drain();
    stop(conn).await;
}

// Found by the hostile run, fixed: Two messages sharing a message_id were spliced: the handler got ("evt-B", "AAAAAAAA"),
// which nobody sent. A repeated seq with other bytes now drops the partial message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_of_two_messages_sharing_a_message_id_are_not_spliced() {
    let _g = EXCLUSIVE.read().await;
    let server = Server::fast().await;
    let (dispatcher, seen) = recorder(Duration::ZERO);
    let conn = server.builder(dispatcher).build().start().await.unwrap();
    let mut peer = server.peer().await;
    let a = event("evt-A", "AAAAAAAA");
    let b = event("evt-B", "BBBBBBBB");
    // Keys are sorted: `event` (the text) comes before `header` (the id).
    let cut = String::from_utf8_lossy(&a).find("\"header\"").unwrap();
    assert_eq!(cut, String::from_utf8_lossy(&b).find("\"header\"").unwrap());
    let part = |seq: &str, bytes: &[u8]| data("shared", "2", seq, bytes.to_vec());
    assert!(peer.send(&part("0", &a[..cut])).await);
    assert!(peer.send(&part("0", &b[..cut])).await);
    assert!(peer.send(&part("1", &b[cut..])).await);
    assert!(peer.send(&part("1", &a[cut..])).await);
    assert_alive(&mut peer, "shared message ids").await;
    let events = seen.events.lock().unwrap().clone();
    println!("shared message_id: handled {events:?}");
    let sent: HashSet<(String, String)> = [
        ("evt-A", "AAAAAAAA"),
        ("evt-B", "BBBBBBBB"),
        ("alive-shared message ids", "alive"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    for e in &events {
        assert!(
            sent.contains(e),
            "handled an event that was never sent: {e:?}"
        );
    }
    peer.drain();
    stop(conn).await;
}
