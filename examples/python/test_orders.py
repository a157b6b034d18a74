"""A service that publishes orders, tested with pika against amqp-spy's built-in broker."""

import base64
import json

import pika


def place_order(url, order):
    """The code under test: publishes the order as JSON to the `orders` topic exchange."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare("orders", exchange_type="topic")
        channel.basic_publish(
            "orders",
            "order.created",
            json.dumps(order).encode(),
            pika.BasicProperties(content_type="application/json"),
        )
    finally:
        connection.close()


def is_publish(event, routing_key):
    return (
        event["kind"] == "message"
        and event["method"]["name"] == "basic.publish"
        and event["method"]["args"]["routing-key"] == routing_key
    )


def test_publishes_the_order_as_json(amqp_spy):
    place_order(amqp_spy.url, {"id": 7, "total": 12.5})
    event = amqp_spy.wait_for(lambda e: is_publish(e, "order.created"))
    assert event["method"]["args"]["exchange"] == "orders"
    assert event["properties"]["content-type"] == "application/json"
    assert json.loads(base64.b64decode(event["body"])) == {"id": 7, "total": 12.5}


def test_a_bound_queue_receives_it(amqp_spy):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_spy.url))
    channel = connection.channel()
    channel.exchange_declare("orders", exchange_type="topic")
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "orders", "order.*")
    place_order(amqp_spy.url, {"id": 8, "total": 1})
    method, properties, body = channel.basic_get(queue, auto_ack=True)
    assert method is not None, "the order did not reach the bound queue"
    assert json.loads(body) == {"id": 8, "total": 1}
    connection.close()


def test_confirms_are_paired_with_their_publish(amqp_spy):
    place_order(amqp_spy.url, {"id": 9, "total": 2})
    publish = amqp_spy.wait_for(lambda e: is_publish(e, "order.created") and b'"id": 9' in base64.b64decode(e["body"]))
    ack = amqp_spy.wait_for(
        lambda e: e["kind"] == "frame"
        and e["dir"] == "s2c"
        and e["conn"] == publish["conn"]
        and e.get("insight", {}).get("confirms") is not None
    )
    assert ack["insight"]["confirms"]["publishSeqs"] == [publish["frames"][0]]
