import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hookrelay.v1 import delivery_pb2 as _delivery_pb2
from hookrelay.v1 import event_pb2 as _event_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BodyFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BODY_FORMAT_UNSPECIFIED: _ClassVar[BodyFormat]
    BODY_FORMAT_ENVELOPE: _ClassVar[BodyFormat]
    BODY_FORMAT_DATA: _ClassVar[BodyFormat]
    BODY_FORMAT_FIELDS: _ClassVar[BodyFormat]

class TimestampUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIMESTAMP_UNIT_UNSPECIFIED: _ClassVar[TimestampUnit]
    TIMESTAMP_UNIT_SECONDS: _ClassVar[TimestampUnit]
    TIMESTAMP_UNIT_MILLISECONDS: _ClassVar[TimestampUnit]

class MacAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAC_ALGORITHM_UNSPECIFIED: _ClassVar[MacAlgorithm]
    MAC_ALGORITHM_HMAC_SHA256: _ClassVar[MacAlgorithm]
    MAC_ALGORITHM_HMAC_SHA512: _ClassVar[MacAlgorithm]

class SignatureEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_ENCODING_UNSPECIFIED: _ClassVar[SignatureEncoding]
    SIGNATURE_ENCODING_HEX: _ClassVar[SignatureEncoding]
    SIGNATURE_ENCODING_BASE64: _ClassVar[SignatureEncoding]

class SigningKey(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNING_KEY_UNSPECIFIED: _ClassVar[SigningKey]
    SIGNING_KEY_RAW: _ClassVar[SigningKey]
    SIGNING_KEY_STANDARD_WEBHOOKS: _ClassVar[SigningKey]

class Backoff(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKOFF_UNSPECIFIED: _ClassVar[Backoff]
    BACKOFF_EXPONENTIAL: _ClassVar[Backoff]
    BACKOFF_LINEAR: _ClassVar[Backoff]
    BACKOFF_FIXED: _ClassVar[Backoff]

class SignatureAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_ALGORITHM_UNSPECIFIED: _ClassVar[SignatureAlgorithm]
    SIGNATURE_ALGORITHM_HMAC_SHA256_HEX: _ClassVar[SignatureAlgorithm]
    SIGNATURE_ALGORITHM_HMAC_SHA512_HEX: _ClassVar[SignatureAlgorithm]
BODY_FORMAT_UNSPECIFIED: BodyFormat
BODY_FORMAT_ENVELOPE: BodyFormat
BODY_FORMAT_DATA: BodyFormat
BODY_FORMAT_FIELDS: BodyFormat
TIMESTAMP_UNIT_UNSPECIFIED: TimestampUnit
TIMESTAMP_UNIT_SECONDS: TimestampUnit
TIMESTAMP_UNIT_MILLISECONDS: TimestampUnit
MAC_ALGORITHM_UNSPECIFIED: MacAlgorithm
MAC_ALGORITHM_HMAC_SHA256: MacAlgorithm
MAC_ALGORITHM_HMAC_SHA512: MacAlgorithm
SIGNATURE_ENCODING_UNSPECIFIED: SignatureEncoding
SIGNATURE_ENCODING_HEX: SignatureEncoding
SIGNATURE_ENCODING_BASE64: SignatureEncoding
SIGNING_KEY_UNSPECIFIED: SigningKey
SIGNING_KEY_RAW: SigningKey
SIGNING_KEY_STANDARD_WEBHOOKS: SigningKey
BACKOFF_UNSPECIFIED: Backoff
BACKOFF_EXPONENTIAL: Backoff
BACKOFF_LINEAR: Backoff
BACKOFF_FIXED: Backoff
SIGNATURE_ALGORITHM_UNSPECIFIED: SignatureAlgorithm
SIGNATURE_ALGORITHM_HMAC_SHA256_HEX: SignatureAlgorithm
SIGNATURE_ALGORITHM_HMAC_SHA512_HEX: SignatureAlgorithm

class Subscription(_message.Message):
    __slots__ = ("id", "name", "description", "url", "event_types", "scope", "enabled", "disabled_reason", "headers", "retry_policy", "signature", "timeout", "rate_limit", "ordered", "metadata", "create_time", "update_time", "profile", "unsigned", "health", "filter")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DISABLED_REASON_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    RETRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDERED_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    UNSIGNED_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    url: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    scope: str
    enabled: bool
    disabled_reason: str
    headers: _containers.ScalarMap[str, str]
    retry_policy: RetryPolicy
    signature: SignatureProfile
    timeout: _duration_pb2.Duration
    rate_limit: int
    ordered: bool
    metadata: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    profile: DeliveryProfile
    unsigned: bool
    health: SubscriptionHealth
    filter: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., url: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., scope: _Optional[str] = ..., enabled: _Optional[bool] = ..., disabled_reason: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., retry_policy: _Optional[_Union[RetryPolicy, _Mapping]] = ..., signature: _Optional[_Union[SignatureProfile, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., rate_limit: _Optional[int] = ..., ordered: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., profile: _Optional[_Union[DeliveryProfile, _Mapping]] = ..., unsigned: _Optional[bool] = ..., health: _Optional[_Union[SubscriptionHealth, _Mapping]] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SubscriptionHealth(_message.Message):
    __slots__ = ("last_success_time", "failing_since", "consecutive_failures", "success_ratio_24h", "attempts_24h")
    LAST_SUCCESS_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILING_SINCE_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATIO_24H_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_24H_FIELD_NUMBER: _ClassVar[int]
    last_success_time: _timestamp_pb2.Timestamp
    failing_since: _timestamp_pb2.Timestamp
    consecutive_failures: int
    success_ratio_24h: float
    attempts_24h: int
    def __init__(self, last_success_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failing_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consecutive_failures: _Optional[int] = ..., success_ratio_24h: _Optional[float] = ..., attempts_24h: _Optional[int] = ...) -> None: ...

class DeliveryProfile(_message.Message):
    __slots__ = ("preset", "body", "body_fields", "id_header", "timestamp_header", "timestamp_unit", "header_templates", "signatures")
    class HeaderTemplatesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PRESET_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELDS_FIELD_NUMBER: _ClassVar[int]
    ID_HEADER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_HEADER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_UNIT_FIELD_NUMBER: _ClassVar[int]
    HEADER_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    preset: str
    body: BodyFormat
    body_fields: _containers.RepeatedCompositeFieldContainer[BodyField]
    id_header: str
    timestamp_header: str
    timestamp_unit: TimestampUnit
    header_templates: _containers.ScalarMap[str, str]
    signatures: _containers.RepeatedCompositeFieldContainer[SignatureRecipe]
    def __init__(self, preset: _Optional[str] = ..., body: _Optional[_Union[BodyFormat, str]] = ..., body_fields: _Optional[_Iterable[_Union[BodyField, _Mapping]]] = ..., id_header: _Optional[str] = ..., timestamp_header: _Optional[str] = ..., timestamp_unit: _Optional[_Union[TimestampUnit, str]] = ..., header_templates: _Optional[_Mapping[str, str]] = ..., signatures: _Optional[_Iterable[_Union[SignatureRecipe, _Mapping]]] = ...) -> None: ...

class BodyField(_message.Message):
    __slots__ = ("name", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    source: str
    def __init__(self, name: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class SignatureRecipe(_message.Message):
    __slots__ = ("header", "algorithm", "encoding", "key", "signed_content", "each", "separator", "value", "algorithm_header")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_CONTENT_FIELD_NUMBER: _ClassVar[int]
    EACH_FIELD_NUMBER: _ClassVar[int]
    SEPARATOR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_HEADER_FIELD_NUMBER: _ClassVar[int]
    header: str
    algorithm: MacAlgorithm
    encoding: SignatureEncoding
    key: SigningKey
    signed_content: str
    each: str
    separator: str
    value: str
    algorithm_header: str
    def __init__(self, header: _Optional[str] = ..., algorithm: _Optional[_Union[MacAlgorithm, str]] = ..., encoding: _Optional[_Union[SignatureEncoding, str]] = ..., key: _Optional[_Union[SigningKey, str]] = ..., signed_content: _Optional[str] = ..., each: _Optional[str] = ..., separator: _Optional[str] = ..., value: _Optional[str] = ..., algorithm_header: _Optional[str] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts", "initial_delay", "max_delay", "backoff", "jitter")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_DELAY_FIELD_NUMBER: _ClassVar[int]
    MAX_DELAY_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    initial_delay: _duration_pb2.Duration
    max_delay: _duration_pb2.Duration
    backoff: Backoff
    jitter: bool
    def __init__(self, max_attempts: _Optional[int] = ..., initial_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., backoff: _Optional[_Union[Backoff, str]] = ..., jitter: _Optional[bool] = ...) -> None: ...

class SignatureProfile(_message.Message):
    __slots__ = ("header", "algorithm", "prefix", "algorithm_header")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_HEADER_FIELD_NUMBER: _ClassVar[int]
    header: str
    algorithm: SignatureAlgorithm
    prefix: str
    algorithm_header: str
    def __init__(self, header: _Optional[str] = ..., algorithm: _Optional[_Union[SignatureAlgorithm, str]] = ..., prefix: _Optional[str] = ..., algorithm_header: _Optional[str] = ...) -> None: ...

class CreateSubscriptionRequest(_message.Message):
    __slots__ = ("subscription", "secret")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    secret: str
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class CreateSubscriptionResponse(_message.Message):
    __slots__ = ("subscription", "secret")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    secret: str
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class GetSubscriptionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "scope", "enabled")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    scope: str
    enabled: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., scope: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class ListSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions", "next_page_token")
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    next_page_token: str
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSubscriptionRequest(_message.Message):
    __slots__ = ("subscription", "update_mask")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class DeleteSubscriptionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteSubscriptionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateSubscriptionSecretRequest(_message.Message):
    __slots__ = ("id", "secret", "overlap")
    ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    id: str
    secret: str
    overlap: _duration_pb2.Duration
    def __init__(self, id: _Optional[str] = ..., secret: _Optional[str] = ..., overlap: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RotateSubscriptionSecretResponse(_message.Message):
    __slots__ = ("secret", "previous_secret_expire_time")
    SECRET_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SECRET_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    secret: str
    previous_secret_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, secret: _Optional[str] = ..., previous_secret_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SendTestEventRequest(_message.Message):
    __slots__ = ("id", "data", "attributes")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    data: _struct_pb2.Struct
    attributes: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SendTestEventResponse(_message.Message):
    __slots__ = ("attempt",)
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    attempt: _delivery_pb2.DeliveryAttempt
    def __init__(self, attempt: _Optional[_Union[_delivery_pb2.DeliveryAttempt, _Mapping]] = ...) -> None: ...

class PreviewDeliveryRequest(_message.Message):
    __slots__ = ("id", "subscription", "event", "test_secret")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    TEST_SECRET_FIELD_NUMBER: _ClassVar[int]
    id: str
    subscription: Subscription
    event: _event_pb2.Event
    test_secret: str
    def __init__(self, id: _Optional[str] = ..., subscription: _Optional[_Union[Subscription, _Mapping]] = ..., event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., test_secret: _Optional[str] = ...) -> None: ...

class PreviewDeliveryResponse(_message.Message):
    __slots__ = ("method", "url", "headers", "body", "filter_matches")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    FILTER_MATCHES_FIELD_NUMBER: _ClassVar[int]
    method: str
    url: str
    headers: _containers.RepeatedCompositeFieldContainer[HttpHeader]
    body: bytes
    filter_matches: bool
    def __init__(self, method: _Optional[str] = ..., url: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[HttpHeader, _Mapping]]] = ..., body: _Optional[bytes] = ..., filter_matches: _Optional[bool] = ...) -> None: ...

class HttpHeader(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
