"""Kafka at the edge: the consumer thread and the async producer. Nothing else imports
confluent_kafka except the admin helpers used at startup."""

from stream_notifier.kafka.consumer import ConsumerHandler, ConsumerSettings, ConsumerThread
from stream_notifier.kafka.producer import AsyncProducer

__all__ = ["AsyncProducer", "ConsumerHandler", "ConsumerSettings", "ConsumerThread"]
