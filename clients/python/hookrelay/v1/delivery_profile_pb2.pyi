import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hookrelay.v1 import subscription_pb2 as _subscription_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SavedDeliveryProfile(_message.Message):
    __slots__ = ("name", "profile", "built_in", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    BUILT_IN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    profile: _subscription_pb2.DeliveryProfile
    built_in: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., profile: _Optional[_Union[_subscription_pb2.DeliveryProfile, _Mapping]] = ..., built_in: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateDeliveryProfileRequest(_message.Message):
    __slots__ = ("delivery_profile",)
    DELIVERY_PROFILE_FIELD_NUMBER: _ClassVar[int]
    delivery_profile: SavedDeliveryProfile
    def __init__(self, delivery_profile: _Optional[_Union[SavedDeliveryProfile, _Mapping]] = ...) -> None: ...

class CreateDeliveryProfileResponse(_message.Message):
    __slots__ = ("delivery_profile",)
    DELIVERY_PROFILE_FIELD_NUMBER: _ClassVar[int]
    delivery_profile: SavedDeliveryProfile
    def __init__(self, delivery_profile: _Optional[_Union[SavedDeliveryProfile, _Mapping]] = ...) -> None: ...

class GetDeliveryProfileRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetDeliveryProfileResponse(_message.Message):
    __slots__ = ("delivery_profile",)
    DELIVERY_PROFILE_FIELD_NUMBER: _ClassVar[int]
    delivery_profile: SavedDeliveryProfile
    def __init__(self, delivery_profile: _Optional[_Union[SavedDeliveryProfile, _Mapping]] = ...) -> None: ...

class ListDeliveryProfilesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeliveryProfilesResponse(_message.Message):
    __slots__ = ("delivery_profiles", "next_page_token")
    DELIVERY_PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    delivery_profiles: _containers.RepeatedCompositeFieldContainer[SavedDeliveryProfile]
    next_page_token: str
    def __init__(self, delivery_profiles: _Optional[_Iterable[_Union[SavedDeliveryProfile, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateDeliveryProfileRequest(_message.Message):
    __slots__ = ("delivery_profile", "update_mask")
    DELIVERY_PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    delivery_profile: SavedDeliveryProfile
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, delivery_profile: _Optional[_Union[SavedDeliveryProfile, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateDeliveryProfileResponse(_message.Message):
    __slots__ = ("delivery_profile",)
    DELIVERY_PROFILE_FIELD_NUMBER: _ClassVar[int]
    delivery_profile: SavedDeliveryProfile
    def __init__(self, delivery_profile: _Optional[_Union[SavedDeliveryProfile, _Mapping]] = ...) -> None: ...

class DeleteDeliveryProfileRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteDeliveryProfileResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
